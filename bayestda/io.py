"""Atomic file writes: a file either exists complete or not at all, so interrupted jobs lose nothing."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch


@contextmanager
def _temporary_beside(path: Path):
    """Yield a temporary path in the target's folder; on success move it onto the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp_path), then rename the result onto path in one step."""
    with _temporary_beside(path) as tmp:
        write(tmp)


def save_torch(obj: Any, path: Path) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def save_json(obj: Any, path: Path) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n"))


def save_text(text: str, path: Path) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def save_csv(frame, path: Path, index: bool = False) -> None:
    """Write a pandas DataFrame as CSV atomically."""
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=index))
