"""Shared torch.func pieces: flat parameter vectors, per-sample gradients, losses of many models, HVPs.

Each gradient is computed once per checkpoint, never per pair; everything here works on batches of
samples or of models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vmap
from torch.nn import functional as F

from . import layer_grads
from .gradient_matrix import GradientMatrix
from .models.cnn import ChannelsLastEvaluator, channels_last_applies
from .parallel import map_groups, thread_map

Params = dict[str, torch.Tensor]


@dataclass
class FlatView:
    """Maps between a model's named parameters and one flat vector (in named_parameters order)."""

    names: list[str]
    shapes: list[torch.Size]

    @classmethod
    def of(cls, params: Params) -> FlatView:
        return cls(list(params), [p.shape for p in params.values()])

    @property
    def sizes(self) -> list[int]:
        return [s.numel() for s in self.shapes]

    @property
    def numel(self) -> int:
        return sum(self.sizes)

    def flatten(self, params: Params, batch_dims: int = 0) -> torch.Tensor:
        """[*batch, P] from a dict of [*batch, *shape] tensors."""
        return torch.cat([params[n].flatten(batch_dims) for n in self.names], dim=-1)

    def unflatten(self, flat: torch.Tensor) -> Params:
        """Dict of [*batch, *shape] tensors from [*batch, P]."""
        batch = flat.shape[:-1]
        chunks = torch.split(flat, self.sizes, dim=-1)
        return {n: c.reshape(*batch, *s) for n, c, s in zip(self.names, chunks, self.shapes)}


def detached_params(model: nn.Module, trainable_only: bool = True) -> Params:
    """The model's (trainable) parameters as a dict of detached tensors."""
    return {n: p.detach() for n, p in model.named_parameters() if p.requires_grad or not trainable_only}


def mean_loss_fn(net: nn.Module) -> Callable[[Params, torch.Tensor, torch.Tensor], torch.Tensor]:
    """Mean cross-entropy of a batch under the given parameters (buffers and frozen weights from net)."""

    def loss(params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(net, params, (x,)), y)

    return loss


def per_sample_gradients(net: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, chunk: int = 128,
                         workers: int = 1, method: str = "auto") -> GradientMatrix:
    """Gradients of each item's own loss (a batch of one) as a GradientMatrix, in chunks over `workers` threads.

    method 'vmap' is torch.func's vmap(grad) (a dense matrix); 'layers' takes every item's gradient from one
    batched backward (Linear and Conv2d layers only, 1.4x faster here) and keeps the rank-one Linear blocks
    factored; 'auto' picks 'layers' where it applies.
    """
    if method == "auto":
        method = "layers" if layer_grads.supports(net, params) else "vmap"
    view = FlatView.of(params)
    rank_one = layer_grads.rank_one_weights(net, params, x) if method == "layers" else []
    new = lambda *shape: torch.empty(len(y), *shape, dtype=x.dtype, device=x.device)  # noqa: E731
    factors = {n: (new(params[n].shape[0]), new(params[n].shape[1])) for n in rank_one}
    dense = new(sum(size for n, size in zip(view.names, view.sizes) if n not in factors))  # filled in place
    channels_last = channels_last_applies(net, x.device)

    def chunks(module: nn.Module, starts: list[int]) -> list[None]:
        if method == "layers":
            for i in starts:
                part = slice(i, i + chunk)
                layer_grads.per_sample_grads(module, params, x[part], y[part], out=dense[part], channels_last=channels_last,
                                             factors={n: (d[part], a[part]) for n, (d, a) in factors.items()})
            return [None] * len(starts)
        loss = mean_loss_fn(module)

        def one(p: Params, xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
            return view.flatten(grad(loss)(p, xi.unsqueeze(0), yi.unsqueeze(0)))

        batched = vmap(one, in_dims=(None, 0, 0))
        for i in starts:
            dense[i : i + chunk] = batched(params, x[i : i + chunk], y[i : i + chunk])
        return [None] * len(starts)

    map_groups(chunks, net, range(0, len(y), chunk), workers)
    return GradientMatrix(view, dense, factors)


def per_sample_grads(net: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, chunk: int = 128,
                     workers: int = 1, method: str = "auto") -> torch.Tensor:
    """[N, P] dense per-sample gradients (see per_sample_gradients)."""
    return per_sample_gradients(net, params, x, y, chunk, workers, method).rows()


def logits_of(net: nn.Module, params: Params, x: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """[N, C] outputs of one model without autograd (chunks of ~256 keep activations in cache: 2x faster)."""
    with torch.no_grad():
        return torch.cat([functional_call(net, params, (x[i : i + chunk],)) for i in range(0, len(x), chunk)])


def per_sample_losses(net: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """[N] cross-entropy of each item under one model."""
    return F.cross_entropy(logits_of(net, params, x, chunk), y, reduction="none")


def losses_of_models(net: nn.Module, models: list[Params], x: torch.Tensor, y: torch.Tensor, stacked: bool = False,
                     model_chunk: int = 32, workers: int = 1) -> torch.Tensor:
    """[k, N] per-sample test losses of k models; a loop (over CPU threads) on CPU, vmap on GPUs.

    The paper's CNNs on CPU go through ChannelsLastEvaluator (2x faster, same losses to float rounding).
    """
    if not stacked and channels_last_applies(net, x.device):
        evaluator = ChannelsLastEvaluator(net, x)
        return torch.stack(thread_map(lambda p: F.cross_entropy(evaluator.logits(p), y, reduction="none"), models, workers))
    if not stacked:
        rows = map_groups(lambda module, group: [per_sample_losses(module, p, x, y) for p in group], net, models, workers)
        return torch.stack(rows)

    def one(p: Params) -> torch.Tensor:
        return F.cross_entropy(functional_call(net, p, (x,)), y, reduction="none")

    rows = []
    with torch.no_grad():
        for i in range(0, len(models), model_chunk):
            group = models[i : i + model_chunk]
            stack = {n: torch.stack([m[n] for m in group]) for n in group[0]}
            rows.append(vmap(one)(stack))
    return torch.cat(rows)


def batch_hvp(net: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """[r, P] Hessian-vector products of the batch's mean loss with r flat vectors (forward-over-reverse)."""
    loss = mean_loss_fn(net)
    view = FlatView.of(params)

    def grad_flat(flat: torch.Tensor) -> torch.Tensor:
        return view.flatten(grad(loss)(view.unflatten(flat), x, y))

    theta = view.flatten(params)

    def one(v: torch.Tensor) -> torch.Tensor:
        return jvp(grad_flat, (theta,), (v,))[1]

    return vmap(one)(vectors)
