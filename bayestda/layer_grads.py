"""Per-sample gradients from one batched backward pass, for networks of Linear and Conv2d layers.

For a Linear layer the gradient of item i's loss is δ_i a_iᵀ (summed over any token axes), for a Conv2d
layer δ_i · unfold(a_i)ᵀ, with a_i the layer's input and δ_i the gradient of item i's loss at the layer's
output. One forward and one backward of the batch's summed loss give every δ_i: no per-item passes.
It gives the same gradients as vmap(grad) up to float rounding (about 3x faster on the CPU for the CNNs);
`supports` says when it applies, otherwise callers use vmap(grad).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

Params = dict[str, torch.Tensor]


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


def _weight_grad(module: nn.Module, a: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    if isinstance(module, nn.Conv2d):
        cols = F.unfold(a, module.kernel_size, module.dilation, module.padding, module.stride)  # [B, Cin·k·k, L]
        grad = torch.bmm(d.flatten(2), cols.transpose(1, 2))  # [B, Cout, Cin·k·k]
        return grad.reshape(len(a), *module.weight.shape)
    a3, d3 = a.reshape(len(a), -1, a.shape[-1]), d.reshape(len(d), -1, d.shape[-1])
    if a3.shape[1] == 1:  # one token: an outer product, faster as a broadcast multiply than a bmm
        return d3[:, 0, :, None] * a3[:, 0, None, :]
    return torch.bmm(d3.transpose(1, 2), a3)  # [B, out, in]


def _bias_grad(module: nn.Module, d: torch.Tensor) -> torch.Tensor:
    if isinstance(module, nn.Conv2d):
        return d.flatten(2).sum(2)
    return d.reshape(len(d), -1, d.shape[-1]).sum(1)


def per_sample_grads(net: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
                     out: torch.Tensor | None = None) -> torch.Tensor:
    """[N, P] per-item gradients (P in the order of `params`) from one batched forward and backward."""
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
            logits = functional_call(net, live, (x,))
            loss = F.cross_entropy(logits, y, reduction="sum")  # item i's own loss contributes only to δ_i
            names = list(outputs)
            deltas = dict(zip(names, torch.autograd.grad(loss, [outputs[n] for n in names])))
    finally:
        for handle in handles:
            handle.remove()
    if out is None:
        out = torch.empty(len(x), sum(p.numel() for p in params.values()), dtype=x.dtype, device=x.device)
    start = 0
    for name, p in params.items():
        module, module_name, attr = owners[name]
        d = deltas[module_name]
        grad = _weight_grad(module, inputs[module_name], d) if attr == "weight" else _bias_grad(module, d)
        out[:, start : start + p.numel()] = grad.reshape(len(x), -1)
        start += p.numel()
    return out
