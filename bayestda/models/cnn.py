"""The paper's CNNs: GELU, max-pool 2 after every conv, 10 outputs; parameter names load its checkpoints."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def max_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """Max-pool 2x2, stride 2, floor mode: the same values as F.max_pool2d, 4x faster on CPU.

    Used only without autograd: on ties (blank MNIST regions) torch.maximum splits the gradient while
    max-pooling sends it to the first maximum, and gradients must stay the paper's. (A torch.where
    form with max-pooling's gradient was measured slower than nn.MaxPool2d in training.)
    """
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    top = torch.maximum(x[..., 0:h:2, 0:w:2], x[..., 0:h:2, 1:w:2])
    return torch.maximum(top, torch.maximum(x[..., 1:h:2, 0:w:2], x[..., 1:h:2, 1:w:2]))


class _PaperCNN(nn.Module):
    """Shared pooling: nn.MaxPool2d (the paper's) whenever gradients are recorded, the fast form otherwise.

    Every paper CNN is convs (each conv -> GELU -> max-pool 2) then flatten, fc1 -> GELU -> fc2.
    """

    pool: nn.MaxPool2d
    conv_names: tuple[str, ...]

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x) if torch.is_grad_enabled() else max_pool_2x2(x)


class CNN2(_PaperCNN):
    """2-layer CNN: conv(k) -> conv(k) -> fc 64*5*5 -> 128 -> 10 (k = 3 for MNIST, 5 for CIFAR-10)."""

    def __init__(self, in_channels: int = 1) -> None:
        super().__init__()
        kernel = 3 if in_channels == 1 else 5
        self.conv_names = ("conv1", "conv2")
        self.conv1 = nn.Conv2d(in_channels, 32, kernel_size=kernel)
        self.pool = nn.MaxPool2d(kernel_size=2)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=kernel)
        self.fc1 = nn.Linear(64 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._pool(F.gelu(self.conv1(x)))
        x = self._pool(F.gelu(self.conv2(x)))
        x = x.reshape(-1, 64 * 5 * 5)
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


def build_cnn(arch: str, in_channels: int) -> nn.Module:
    """A freshly initialised CNN (draws from torch's global RNG, as the paper's constructors do)."""
    if arch == "cnn":
        return CNN2(in_channels)
    if arch == "cnn3":
        return CNN3(in_channels)
    raise ValueError(f"unknown CNN arch {arch!r}; allowed: cnn, cnn3")


def is_paper_cnn(net: nn.Module) -> bool:
    """True for the paper's CNNs (the nets the channels-last fast paths are written for)."""
    return isinstance(net, _PaperCNN)


def channels_last_applies(net: nn.Module, device: torch.device | str) -> bool:
    """Whether the channels-last paths run (evaluation, LOO training, per-sample gradients): the paper's CNNs on
    CPU, where they were measured faster; GPUs keep the default layout."""
    return is_paper_cnn(net) and torch.device(device).type == "cpu"


def to_channels_last(t: torch.Tensor) -> torch.Tensor:
    """A 4-D tensor in NHWC memory, also with one channel (where .contiguous(memory_format=...) keeps NCHW
    strides, and oneDNN then runs the NCHW kernels: 7x slower max-pooling on this CPU)."""
    return torch.empty_like(t, memory_format=torch.channels_last).copy_(t)


def nhwc_patches(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """[N, H', W', k·k·C] input patches of a stride-1 conv from an NHWC tensor [N, H, W, C], as shifted views,
    in (i, j, c) order: the order of conv.weight.permute(0, 2, 3, 1).flatten(1)."""
    pad_h, pad_w = conv.padding
    x = F.pad(x, (0, 0, pad_w, pad_w, pad_h, pad_h)) if pad_h or pad_w else x
    k_h, k_w = conv.kernel_size
    out_h, out_w = x.shape[1] - k_h + 1, x.shape[2] - k_w + 1
    return torch.stack([x[:, i : i + out_h, j : j + out_w] for i in range(k_h) for j in range(k_w)], dim=3).flatten(3)


def max_pool_2x2_nhwc(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """max_pool_2x2 of a [N, H, W, C] tensor (floor mode): maxima of contiguous channel vectors.

    out: an optional [N, H//2, W//2, C] buffer (saves the allocation in loops over chunks).
    """
    h, w = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2
    rows = torch.maximum(x[:, 0:h:2, :w], x[:, 1:h:2, :w])
    if out is None:
        return torch.maximum(rows[:, :, 0::2], rows[:, :, 1::2])
    return torch.maximum(rows[:, :, 0::2], rows[:, :, 1::2], out=out)


class ChannelsLastEvaluator:
    """Logits of one paper CNN under many parameter sets, on one fixed input set; inference only.

    Activations live in channels-last (NHWC) layout: the first conv is one matrix product over input
    patches cut once for all parameter sets (a column of ones carries the bias), later convs run oneDNN's
    channels-last kernels, GELU runs in place, pooling takes maxima of contiguous channel vectors into
    reused buffers, and fc1's columns are permuted to the NHWC flattening. The same function as forward()
    up to float rounding (1e-7 of the losses); about 2x faster than it on this CPU (900 MNIST items,
    one thread: 135 vs 260 ms). Thread-safe: no module state, so CPU threads can evaluate different
    parameter sets at once.
    """

    def __init__(self, net: nn.Module, x: torch.Tensor, chunk: int = 128) -> None:
        if not is_paper_cnn(net):
            raise TypeError(f"ChannelsLastEvaluator needs one of the paper's CNNs, not {type(net).__name__}")
        self.convs = [(name, getattr(net, name)) for name in net.conv_names]
        self.chunk = chunk
        patches = nhwc_patches(x.permute(0, 2, 3, 1), self.convs[0][1])
        self.patches = torch.cat([patches, torch.ones_like(patches[..., :1])], dim=-1)
        self.maps = [(self.convs[0][1].out_channels, *patches.shape[1:3])]  # (C, H, W) of every conv's output
        for _, conv in self.convs[1:]:
            _, height, width = self.maps[-1]
            self.maps.append((conv.out_channels, height // 2 + 2 * conv.padding[0] - conv.kernel_size[0] + 1,
                              width // 2 + 2 * conv.padding[1] - conv.kernel_size[1] + 1))

    def logits(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """[N, 10] logits of the fixed inputs under `params` (the net's parameter names)."""
        names = [name for name, _ in self.convs]
        first_weight = params[f"{names[0]}.weight"].permute(0, 2, 3, 1).flatten(1)  # the patches' (i, j, c) order
        first = torch.cat([first_weight.T, params[f"{names[0]}.bias"][None]])
        rest = [params[f"{name}.weight"].contiguous(memory_format=torch.channels_last) for name in names[1:]]
        channels, height, width = self.maps[-1]
        fc1 = params["fc1.weight"].view(-1, channels, height // 2, width // 2).permute(0, 2, 3, 1).flatten(1)
        chunk = min(self.chunk, len(self.patches))
        first_out = self.patches.new_empty(chunk * self.maps[0][1] * self.maps[0][2], self.maps[0][0])
        pooled = [self.patches.new_empty(chunk, h // 2, w // 2, c) for c, h, w in self.maps]
        outs = []
        with torch.no_grad():
            for start in range(0, len(self.patches), chunk):
                cut = self.patches[start : start + chunk]
                n = len(cut)
                h = torch.mm(cut.flatten(0, 2), first, out=first_out[: n * cut.shape[1] * cut.shape[2]])
                h = max_pool_2x2_nhwc(torch.ops.aten.gelu_(h.view(*cut.shape[:-1], -1)), out=pooled[0][:n])
                for (name, conv), weight, buffer in zip(self.convs[1:], rest, pooled[1:]):
                    h = F.conv2d(h.permute(0, 3, 1, 2), weight, params[f"{name}.bias"], padding=conv.padding)
                    h = max_pool_2x2_nhwc(torch.ops.aten.gelu_(h.permute(0, 2, 3, 1)), out=buffer[:n])
                h = F.gelu(F.linear(h.flatten(1), fc1, params["fc1.bias"]))
                outs.append(F.linear(h, params["fc2.weight"], params["fc2.bias"]))
        return torch.cat(outs)
