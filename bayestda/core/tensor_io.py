"""Tensors on disk: written atomically with torch.save, hashed by value. Apart from `io` so that what reads and
writes tables (the analysis library) never imports torch."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from .io import atomic_write


def save_torch(obj: Any, path: Path) -> None:
    def write(tmp: Path) -> None:
        try:  # through a file object: the archive's inner name is then fixed, not the temporary file's (same bytes)
            with open(tmp, "wb") as f:
                torch.save(obj, f)
        except RuntimeError as error:  # torch's zip writer reports a full disk as a RuntimeError
            raise OSError(f"torch.save failed ({str(error).strip().splitlines()[0]})") from None

    atomic_write(path, write)


def tensor_hash(*tensors: torch.Tensor) -> str:
    """sha256 of tensors' values, shapes and dtypes (independent of how the file holding them was written)."""
    digest = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()
