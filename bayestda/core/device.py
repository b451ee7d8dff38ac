"""Which torch devices exist here: a device flag is checked once, before anything is read or written."""

from __future__ import annotations

import re

import torch

from .errors import BadInput

_DEVICE = re.compile(r"^(cpu|cuda|cuda:\d+|mps)$")


def _unavailable(device: str) -> str | None:
    """Why a well-formed device is not on this machine (None when it is)."""
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            why = "this torch is built without CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
            return f"{device} is not available here ({why})"
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            return f"{device} is not available here ({torch.cuda.device_count()} CUDA GPU(s): cuda:0.." \
                   f"cuda:{torch.cuda.device_count() - 1})"
    if device == "mps" and not torch.backends.mps.is_available():
        return "mps is not available here"
    return None


def device_problem(device: str, remedy: str = "--device cpu works") -> str | None:
    """Why `device` cannot be used on this machine, with `remedy` where it is absent (None when it can be used)."""
    if not _DEVICE.match(device):
        return f"{device!r} is not a torch device; allowed: cpu, cuda, cuda:N, mps"
    why = _unavailable(device)
    return None if why is None else f"{why}; {remedy}"


def check_device(device: str | torch.device) -> str:
    """The device, or one line saying it is not available and that --device cpu works."""
    why = device_problem(str(device))
    if why is not None:
        raise BadInput(f"--device {why}")
    return str(device)
