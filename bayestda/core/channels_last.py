"""The CPU fast paths of the paper's CNNs, behind one switch: channels-last (NHWC) layout and fast pooling.

On this 2-core CPU oneDNN's NHWC kernels are faster for these small CNNs (max-pooling 7x, a training step
20-25%, evaluation 2x with `ChannelsLastEvaluator`); see docs/speed.md. Each path has a plain one beside it
(NCHW modules, `nn.MaxPool2d`, `F.unfold`) that gives the same numbers up to float rounding; tests compare
them. The switch: `BAYESTDA_CHANNELS_LAST=0` in the environment, or `with plain_paths():`, runs the plain
paths everywhere. A net opts in with the attribute `channels_last_ready = True` (the paper's CNNs).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn import functional as F

_enabled = os.environ.get("BAYESTDA_CHANNELS_LAST", "1") != "0"


@contextmanager
def plain_paths() -> Iterator[None]:
    """Run the plain NCHW paths inside (tests compare both)."""
    global _enabled
    before, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = before


def applies(net: nn.Module, device: torch.device | str) -> bool:
    """Whether the channels-last paths run for this net (evaluation, LOO training, per-sample gradients): nets that
    opt in, on CPU, where they were measured faster; GPUs keep the default layout."""
    return _enabled and getattr(net, "channels_last_ready", False) and torch.device(device).type == "cpu"


# --- pooling ----------------------------------------------------------------------------------------
def max_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """Max-pool 2x2, stride 2, floor mode: the same values as F.max_pool2d, faster on CPU (docs/speed.md).

    Used only without autograd: on ties (blank MNIST regions) torch.maximum splits the gradient while
    max-pooling sends it to the first maximum, and gradients must stay the paper's.
    """
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    top = torch.maximum(x[..., 0:h:2, 0:w:2], x[..., 0:h:2, 1:w:2])
    return torch.maximum(top, torch.maximum(x[..., 1:h:2, 0:w:2], x[..., 1:h:2, 1:w:2]))


def pool(module: nn.MaxPool2d, x: torch.Tensor) -> torch.Tensor:
    """The pooling switch: the module (the paper's) whenever gradients are recorded or the fast paths are off."""
    return max_pool_2x2(x) if _enabled and not torch.is_grad_enabled() else module(x)


def max_pool_2x2_nhwc(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """max_pool_2x2 of a [N, H, W, C] tensor (floor mode): maxima of contiguous channel vectors.

    out: an optional [N, H//2, W//2, C] buffer (saves the allocation in loops over chunks).
    """
    h, w = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2
    rows = torch.maximum(x[:, 0:h:2, :w], x[:, 1:h:2, :w])
    if out is None:
        return torch.maximum(rows[:, :, 0::2], rows[:, :, 1::2])
    return torch.maximum(rows[:, :, 0::2], rows[:, :, 1::2], out=out)


# --- layout -----------------------------------------------------------------------------------------
def to_channels_last(t: torch.Tensor) -> torch.Tensor:
    """A 4-D tensor in NHWC memory, also with one channel (where .contiguous(memory_format=...) keeps NCHW
    strides, and oneDNN then runs the NCHW kernels: a much slower max-pooling)."""
    return torch.empty_like(t, memory_format=torch.channels_last).copy_(t)


def nhwc_patches(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """[N, H', W', k·k·C] input patches of a stride-1 conv from an NHWC tensor [N, H, W, C], as shifted views,
    in (i, j, c) order: the order of conv.weight.permute(0, 2, 3, 1).flatten(1)."""
    pad_h, pad_w = conv.padding
    x = F.pad(x, (0, 0, pad_w, pad_w, pad_h, pad_h)) if pad_h or pad_w else x
    k_h, k_w = conv.kernel_size
    out_h, out_w = x.shape[1] - k_h + 1, x.shape[2] - k_w + 1
    return torch.stack([x[:, i : i + out_h, j : j + out_w] for i in range(k_h) for j in range(k_w)], dim=3).flatten(3)


def conv_weight_grad_applies(module: nn.Module, a: torch.Tensor) -> bool:
    """Per-item conv weight gradients from NHWC activations: stride-1, dilation-1 convs fed channels-last inputs."""
    return (isinstance(module, nn.Conv2d) and a.is_contiguous(memory_format=torch.channels_last)
            and tuple(module.stride) == (1, 1) and tuple(module.dilation) == (1, 1))


def conv_weight_grad(module: nn.Conv2d, a: torch.Tensor, d: torch.Tensor, out: torch.Tensor) -> None:
    """Per-item conv weight gradients from channels-last activations: patches cut as shifted NHWC views
    (F.unfold of a channels-last tensor is slower), one bmm, then the (c, i, j) weight order."""
    k_h, k_w = module.kernel_size
    locations = d.shape[2] * d.shape[3]
    patches = nhwc_patches(a.permute(0, 2, 3, 1), module).view(len(d), locations, -1)  # [B, L, k·k·Cin]
    deltas = d.permute(0, 2, 3, 1).reshape(len(d), locations, -1)  # [B, L, Cout]
    grads = torch.bmm(deltas.transpose(1, 2), patches)  # [B, Cout, k·k·Cin] in (i, j, c) order
    out.copy_(grads.view(len(d), -1, k_h, k_w, a.shape[1]).permute(0, 1, 4, 2, 3))


# --- evaluation -------------------------------------------------------------------------------------
class ChannelsLastEvaluator:
    """Logits of one paper CNN under many parameter sets, on one fixed input set; inference only.

    Activations live in channels-last (NHWC) layout: the first conv is one matrix product over input
    patches cut once for all parameter sets (a column of ones carries the bias), later convs run oneDNN's
    channels-last kernels, GELU runs in place, pooling takes maxima of contiguous channel vectors into
    reused buffers, and fc1's columns are permuted to the NHWC flattening. The same function as forward()
    up to float rounding (1e-7 of the losses), faster on the CPU (docs/speed.md). Thread-safe: no module
    state, so CPU threads can evaluate different parameter sets at once.
    """

    def __init__(self, net: nn.Module, x: torch.Tensor, chunk: int = 128) -> None:
        if not getattr(net, "channels_last_ready", False):
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
