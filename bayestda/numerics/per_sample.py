"""Per-sample gradients: each item's own loss differentiated once per checkpoint, never per pair.

Two ways, the same numbers up to float rounding: `layer_grads` (every item's gradient from one batched backward,
Linear and Conv2d networks, rank-one Linear blocks kept factored) and torch.func's vmap(grad) (any network).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from ..core import channels_last
from ..core.losses import Loss, cross_entropy
from ..core.parallel import map_groups
from ..core.params import FlatView, Params
from . import layer_grads
from .gradient_matrix import GradientMatrix


def per_sample_gradients(net: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, chunk: int = 128,
                         workers: int = 1, method: str = "auto", loss: Loss = cross_entropy) -> GradientMatrix:
    """Gradients of each item's own loss (a batch of one) as a GradientMatrix, in chunks over `workers` threads.

    method 'vmap' is torch.func's vmap(grad) (a dense matrix); 'layers' takes every item's gradient from one
    batched backward (Linear and Conv2d layers only; faster: docs/speed.md) and keeps the rank-one Linear blocks
    factored; 'auto' picks 'layers' where it applies.
    """
    if method == "auto":
        method = "layers" if layer_grads.supports(net, params) else "vmap"
    view = FlatView.of(params)
    rank_one = layer_grads.rank_one_weights(net, params, x, y, loss) if method == "layers" else []
    new = lambda *shape: torch.empty(len(y), *shape, dtype=x.dtype, device=x.device)  # noqa: E731
    factors = {n: (new(params[n].shape[0]), new(params[n].shape[1])) for n in rank_one}
    dense = new(sum(size for n, size in zip(view.names, view.sizes) if n not in factors))  # filled in place
    nhwc = channels_last.applies(net, x.device)

    def chunks(module: nn.Module, starts: list[int]) -> list[None]:
        if method == "layers":
            for i in starts:
                part = slice(i, i + chunk)
                layer_grads.per_sample_grads(module, params, x[part], y[part], out=dense[part], channels_last=nhwc,
                                             factors={n: (d[part], a[part]) for n, (d, a) in factors.items()}, loss=loss)
            return [None] * len(starts)

        def one(p: Params, xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
            item_loss = lambda q: loss(functional_call(module, q, (xi.unsqueeze(0),)), yi.unsqueeze(0))  # noqa: E731
            return view.flatten(grad(item_loss)(p))

        batched = vmap(one, in_dims=(None, 0, 0))
        for i in starts:
            dense[i : i + chunk] = batched(params, x[i : i + chunk], y[i : i + chunk])
        return [None] * len(starts)

    map_groups(chunks, net, range(0, len(y), chunk), workers)
    return GradientMatrix(view, dense, factors)


def per_sample_grads(net: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, chunk: int = 128,
                     workers: int = 1, method: str = "auto", loss: Loss = cross_entropy) -> torch.Tensor:
    """[N, P] dense per-sample gradients (see per_sample_gradients)."""
    return per_sample_gradients(net, params, x, y, chunk, workers, method, loss).rows()
