"""The paper's CNNs: GELU, max-pool 2 after every conv, 10 outputs; parameter names load its checkpoints."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..core import channels_last


class _PaperCNN(nn.Module):
    """Every paper CNN is convs (each conv -> GELU -> max-pool 2) then flatten, fc1 -> GELU -> fc2.

    Pooling goes through the CPU fast-path switch (nn.MaxPool2d, the paper's, whenever gradients are recorded);
    the channels-last paths of `bayestda.core.channels_last` are written for these nets.
    """

    channels_last_ready = True
    pool: nn.MaxPool2d
    conv_names: tuple[str, ...]

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return channels_last.pool(self.pool, x)


class CNN2(_PaperCNN):
    """2-layer CNN: conv(k) -> conv(k) -> fc 64*5*5 -> 128 -> 10 (k = 3 for MNIST, 5 for CIFAR-10); `width`
    scales every hidden width (32, 64, 128; 1 is the paper's), the study of model choices' variants."""

    def __init__(self, in_channels: int = 1, width: float = 1.0) -> None:
        super().__init__()
        kernel = 3 if in_channels == 1 else 5
        first, second, hidden = (max(1, round(c * width)) for c in (32, 64, 128))
        self.features = second * 5 * 5
        self.conv_names = ("conv1", "conv2")
        self.conv1 = nn.Conv2d(in_channels, first, kernel_size=kernel)
        self.pool = nn.MaxPool2d(kernel_size=2)
        self.conv2 = nn.Conv2d(first, second, kernel_size=kernel)
        self.fc1 = nn.Linear(self.features, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._pool(F.gelu(self.conv1(x)))
        x = self._pool(F.gelu(self.conv2(x)))
        x = x.reshape(-1, self.features)
        return self.fc2(F.gelu(self.fc1(x)))


class CNN3(_PaperCNN):
    """3-layer CNN: three convs (k3) -> fc 128*4*4 -> 256 -> 10; padding as in the paper's code."""

    def __init__(self, in_channels: int = 1) -> None:
        super().__init__()
        mid_padding = 2 if in_channels == 1 else 0
        self.conv_names = ("conv1", "conv2", "conv3")
        self.conv1 = nn.Conv2d(in_channels, 32, kernel_size=3)
        self.pool = nn.MaxPool2d(kernel_size=2)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=mid_padding)
        self.conv3 = nn.Conv2d(64, 128, kernel_size=3, padding=2)
        self.fc1 = nn.Linear(128 * 4 * 4, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._pool(F.gelu(self.conv1(x)))
        x = self._pool(F.gelu(self.conv2(x)))
        x = self._pool(F.gelu(self.conv3(x)))
        x = x.reshape(-1, 128 * 4 * 4)
        return self.fc2(F.gelu(self.fc1(x)))


def build_cnn(arch: str, in_channels: int, width: float = 1.0) -> nn.Module:
    """A freshly initialised CNN (draws from torch's global RNG, as the paper's constructors do)."""
    if arch == "cnn":
        return CNN2(in_channels, width)
    if width != 1.0:
        raise ValueError(f"CNN arch {arch!r} has no width variants; only cnn does")
    if arch == "cnn3":
        return CNN3(in_channels)
    raise ValueError(f"unknown CNN arch {arch!r}; allowed: cnn, cnn3")
