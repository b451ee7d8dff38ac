"""The method registry: each TDA method declared once, beside the code that computes it.

A `Method` names its score function, what it needs, the sign that means "helpful", the per-seed script that
writes it and its output files. The pipeline, the per-seed scripts, the launcher's stages, the analysis
defaults and the sign table all read this registry. A new method is one `register(Method(...))` call; a
module outside the package registers its methods when it is imported, and `BAYESTDA_PLUGINS` (comma-separated
module names or .py files) imports such modules in every script and launcher job.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BayesTDAError

NEEDS = ("gradients", "test_losses", "inverse_hvp", "retraining")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Method:
    """One TDA method: `score(ctx)` gives its [n_train, n_test] matrix at one checkpoint.

    Methods with an `inverse_hvp(ctx)` stage are scored as `score(ctx, inverse)`: the per-seed scripts can store
    the vectors first (`run_<f>_s_test.py`) and score them later (`run_<f>_if.py`), as the paper's IF scripts.
    script: the per-seed script that writes it, `tda_<f>_scripts/run_<f>_<script>.py` with `script_flags`;
    'all' (the default for new methods) is the generic script, called with `--methods <name>`.
    """

    name: str
    score: Callable
    helpful_sign: int  # +1: a positive score means the train item helps the test item (the paper's raw signs)
    description: str = ""
    needs: tuple[str, ...] = ("gradients",)
    script: str = "all"
    script_flags: tuple[str, ...] = ()
    inverse_hvp: Callable | None = None
    default: bool = True  # computed and analysed unless methods are named
    version: str = "1"  # bump when the method's numbers change: its old files become stale
    settings: dict = field(default_factory=dict)  # settings that change its numbers (recorded with every file)
    per_seed: bool = False  # one score per seed, the sum of its checkpoints' files: the posterior samples are the seeds

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"method name {self.name!r} must be lower-case letters, digits and '_'")
        if self.helpful_sign not in (1, -1):
            raise ValueError(f"helpful_sign of {self.name!r} must be 1 or -1, not {self.helpful_sign!r}")
        unknown = set(self.needs) - set(NEEDS)
        if unknown:
            raise ValueError(f"{self.name!r} needs unknown {sorted(unknown)}; allowed: {', '.join(NEEDS)}")
        if self.inverse_hvp is not None and "inverse_hvp" not in self.needs:
            object.__setattr__(self, "needs", (*self.needs, "inverse_hvp"))

    def script_path(self, scripts: str, script: str | None = None) -> str:
        """The per-seed script file for a model family's script folder (`cnn` or `vit`)."""
        return script_path(scripts, script or self.script)

    def commands(self, scripts: str) -> list[list[str]]:
        """The script calls (relative argv, before the experiment flags' position) that write this method."""
        if self.inverse_hvp is not None and self.script != "all":
            return [[self.script_path(scripts, "s_test")], [self.script_path(scripts)]]
        extra = ["--methods", self.name] if self.script == "all" else []
        return [[self.script_path(scripts), *self.script_flags, *extra]]


def script_path(scripts: str, script: str) -> str:
    """A per-seed script file: tda_<scripts>_scripts/run_<scripts>_<script>.py."""
    return f"tda_{scripts}_scripts/run_{scripts}_{script}.py"


_REGISTRY: dict[str, Method] = {}
_plugins_loaded = False


def register(method: Method) -> Method:
    """Add (or replace, by name) a method; returns it, so that it can be kept beside its code."""
    _REGISTRY[method.name] = method
    return method


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def load_plugins() -> None:
    """Import the modules named in BAYESTDA_PLUGINS (module names or .py paths) once: they register methods or tasks."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry in filter(None, (e.strip() for e in os.environ.get("BAYESTDA_PLUGINS", "").split(","))):
        if entry.endswith(".py"):
            path = Path(entry)
            if not path.exists():
                raise BayesTDAError(f"BAYESTDA_PLUGINS names {entry}, which does not exist")
            spec = importlib.util.spec_from_file_location(f"bayestda_plugin_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            try:
                importlib.import_module(entry)
            except ImportError as error:
                raise BayesTDAError(f"BAYESTDA_PLUGINS names module {entry!r}, which cannot be imported ({error})") from None


def _registry() -> dict[str, Method]:
    from .. import attribution  # noqa: F401  (the built-in methods register on import, in the default order)

    load_plugins()
    return _REGISTRY


def all_methods() -> list[str]:
    """Every registered method, in registration order."""
    return list(_registry())


def per_seed_methods() -> list[str]:
    """Methods whose score is one matrix per seed (the sum of its per-checkpoint files), e.g. tracincp."""
    return [name for name, m in _registry().items() if m.per_seed]


def default_methods() -> list[str]:
    """The methods computed and analysed when none are named."""
    return [name for name, m in _registry().items() if m.default]


def get(name: str) -> Method:
    registry = _registry()
    if name not in registry:
        raise BayesTDAError(f"unknown method {name!r}; allowed: {', '.join(registry)}")
    return registry[name]


def check_methods(names) -> list[str]:
    """The names, validated (one line naming the first unknown one and the allowed ones), in the given order."""
    for name in names:
        get(name)
    return list(names)


def in_registry_order(names) -> list[Method]:
    wanted = set(check_methods(names))
    return [m for name, m in _registry().items() if name in wanted]


def helpful_signs() -> dict[str, int]:
    """The sign table: the factor that makes "helpful" positive for each method."""
    return {name: m.helpful_sign for name, m in _registry().items()}


def script_methods(script: str, flags: tuple[str, ...] = ()) -> list[str]:
    """The methods a per-seed script writes (with the given script flags)."""
    return [name for name, m in _registry().items() if m.script == script and m.script_flags == tuple(flags)]


def inverse_methods(names=None) -> list[Method]:
    """Registered methods with an inverse-HVP stage (among `names` if given)."""
    names = all_methods() if names is None else names
    return [m for m in in_registry_order(names) if m.inverse_hvp is not None]


def describe() -> str:
    """The registry as a markdown table: name, what it is, the helpful sign, what it needs, its per-seed script."""
    lines = ["| method | what | helpful is | needs | script | default |", "| --- | --- | --- | --- | --- | --- |"]
    for name, m in _registry().items():
        script = " ".join([f"run_<f>_{m.script}.py", *m.script_flags, *(["--methods", name] if m.script == "all" else [])])
        if m.inverse_hvp is not None and m.script != "all":
            script = f"run_<f>_s_test.py`, then `{script}"
        lines.append(f"| `{name}` | {m.description} | {'positive' if m.helpful_sign > 0 else 'negative'} | "
                     f"{', '.join(m.needs)} | `{script}` | {'yes' if m.default else 'on request'} |")
    return "\n".join(lines)
