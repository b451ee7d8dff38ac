"""BAYESTDA_PLUGINS: modules (names or .py files) that register methods or model families, imported once.

The registries call `load_plugins()` before answering, so a plugin's `register(...)` calls are seen by every
script and launcher job of a process that has the variable set.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

from .errors import BadInput

_loaded = False


def load_plugins() -> None:
    """Import the modules named in BAYESTDA_PLUGINS once (a module name or a path to a .py file each)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for entry in filter(None, (e.strip() for e in os.environ.get("BAYESTDA_PLUGINS", "").split(","))):
        if entry.endswith(".py"):
            path = Path(entry)
            if not path.exists():
                raise BadInput(f"BAYESTDA_PLUGINS names {entry}, which does not exist")
            spec = importlib.util.spec_from_file_location(f"bayestda_plugin_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            try:
                importlib.import_module(entry)
            except ImportError as error:
                raise BadInput(f"BAYESTDA_PLUGINS names module {entry!r}, which cannot be imported ({error})") from None
