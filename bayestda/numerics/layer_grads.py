"""Per-sample gradients from one batched backward pass, for networks of Linear and Conv2d layers.

For a Linear layer the gradient of item i's loss is δ_i a_iᵀ (summed over any token axes), for a Conv2d
layer δ_i · unfold(a_i)ᵀ, with a_i the layer's input and δ_i the gradient of item i's loss at the layer's
output. One forward and one backward of the batch's summed loss give every δ_i: no per-item passes.
It gives the same gradients as vmap(grad) up to float rounding, faster on the CPU for the CNNs (docs/speed.md);
`supports` says when it applies, otherwise callers use vmap(grad).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from ..core import channels_last as nhwc
from ..core.losses import Loss, cross_entropy
from ..core.params import Params


def _owners(net: nn.Module, params: Params) -> dict[str, tuple[nn.Module, str, str]]:
    """parameter name -> (module, module name, 'weight' | 'bias')."""
    out = {}
    for module_name, module in net.named_modules():
        for attr, _ in module.named_parameters(recurse=False):
            name = f"{module_name}.{attr}" if module_name else attr
            if name in params:
                out[name] = (module, module_name, attr)
    return out


def supports(net: nn.Module, params: Params) -> bool:
    """True when every requested parameter is the weight or bias of a Linear or plain Conv2d layer."""
    owners = _owners(net, params)
    if set(owners) != set(params):
        return False
    for module, _, _ in owners.values():
        if isinstance(module, nn.Conv2d):
            if module.groups != 1 or module.padding_mode != "zeros" or isinstance(module.padding, str):
                return False
        elif not isinstance(module, nn.Linear):
            return False
    return True


def _weight_grad(module: nn.Module, a: torch.Tensor, d: torch.Tensor, out: torch.Tensor) -> None:
    """Writes every item's weight gradient into out [B, *weight.shape] (a view into the flat gradient rows)."""
    if nhwc.conv_weight_grad_applies(module, a):
        nhwc.conv_weight_grad(module, a, d, out)
        return
    if isinstance(module, nn.Conv2d):
        cols = F.unfold(a, module.kernel_size, module.dilation, module.padding, module.stride)  # [B, Cin·k·k, L]
        torch.bmm(d.flatten(2), cols.transpose(1, 2), out=out.view(len(a), len(module.weight), -1))
        return
    a3, d3 = a.reshape(len(a), -1, a.shape[-1]), d.reshape(len(d), -1, d.shape[-1])
    if a3.shape[1] == 1:  # one token: an outer product, faster as a broadcast multiply than a bmm
        torch.mul(d3[:, 0, :, None], a3[:, 0, None, :], out=out)
        return
    torch.bmm(d3.transpose(1, 2), a3, out=out)  # [B, out, in]


def _bias_grad(module: nn.Module, d: torch.Tensor, out: torch.Tensor) -> None:
    if isinstance(module, nn.Conv2d):
        torch.sum(d.flatten(2), 2, out=out)
    else:
        torch.sum(d.reshape(len(d), -1, d.shape[-1]), 1, out=out)


def _capture(net: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, channels_last: bool,
             loss: Loss = cross_entropy):
    """(owners, inputs, δs) of every layer holding a requested parameter, from one forward and backward."""
    owners = _owners(net, params)
    modules = {module_name: module for module, module_name, _ in owners.values()}
    inputs: dict[str, torch.Tensor] = {}
    outputs: dict[str, torch.Tensor] = {}

    def capture(module_name):
        def hook(_module, args, output):
            inputs[module_name] = args[0].detach()
            outputs[module_name] = output
        return hook

    handles = [m.register_forward_hook(capture(n)) for n, m in modules.items()]
    try:
        with torch.enable_grad():
            live = {n: p.detach().requires_grad_(True) for n, p in params.items()}  # only δs are asked for
            if channels_last:
                live = {n: nhwc.to_channels_last(p) if p.dim() == 4 else p for n, p in live.items()}
                x = nhwc.to_channels_last(x)
            logits = functional_call(net, live, (x,))
            total = loss(logits, y, reduction="sum")  # item i's own loss contributes only to δ_i
            names = list(outputs)
            deltas = dict(zip(names, torch.autograd.grad(total, [outputs[n] for n in names])))
    finally:
        for handle in handles:
            handle.remove()
    return owners, inputs, deltas


def rank_one_weights(net: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
                     loss: Loss = cross_entropy) -> list[str]:
    """Weights of Linear layers fed one vector per item: each item's gradient is an outer product δ aᵀ.

    Found from one item's forward pass (x[:1]): a layer's input has no token axes there.
    """
    owners, inputs, _ = _capture(net, params, x[:1], y[:1], False, loss)
    return [name for name, (module, module_name, attr) in owners.items()
            if attr == "weight" and isinstance(module, nn.Linear) and inputs[module_name].dim() == 2]


def per_sample_grads(net: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
                     out: torch.Tensor | None = None, channels_last: bool = False,
                     factors: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
                     loss: Loss = cross_entropy) -> torch.Tensor:
    """[N, P] per-item gradients (P in the order of `params`) from one batched forward and backward.

    factors: {name: (δ [N, out], a [N, in])} buffers for rank-one weights (see rank_one_weights): those are
    written there as their two factors and left out of `out`, which then holds the other parameters' columns.
    channels_last: run the forward and backward in NHWC layout (faster for the paper's CNNs on CPU).
    """
    factors = factors or {}
    owners, inputs, deltas = _capture(net, params, x, y, channels_last, loss)
    if out is None:
        size = sum(p.numel() for n, p in params.items() if n not in factors)
        out = torch.empty(len(x), size, dtype=x.dtype, device=x.device)
    start = 0
    for name, p in params.items():
        module, module_name, attr = owners[name]
        d = deltas[module_name]
        if name in factors:
            factors[name][0].copy_(d)
            factors[name][1].copy_(inputs[module_name])
            continue
        rows = out[:, start : start + p.numel()].view(len(x), *p.shape)  # written in place: no temporaries
        if attr == "weight":
            _weight_grad(module, inputs[module_name], d, rows)
        else:
            _bias_grad(module, d, rows)
        start += p.numel()
    return out
