"""Hessian-vector products of a batch's mean loss, many vectors at once (forward-over-reverse, vmapped)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vmap

from .losses import Loss, cross_entropy
from .params import FlatView, Params


def mean_loss_fn(net: nn.Module, loss: Loss = cross_entropy) -> Callable[[Params, torch.Tensor, torch.Tensor], torch.Tensor]:
    """Mean loss of a batch under the given parameters (buffers and frozen weights from net)."""

    def mean_loss(params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return loss(functional_call(net, params, (x,)), y)

    return mean_loss


def batch_hvp(net: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, vectors: torch.Tensor,
              loss: Loss = cross_entropy) -> torch.Tensor:
    """[r, P] Hessian-vector products of the batch's mean loss with r flat vectors (forward-over-reverse)."""
    mean_loss = mean_loss_fn(net, loss)
    view = FlatView.of(params)

    def grad_flat(flat: torch.Tensor) -> torch.Tensor:
        return view.flatten(grad(mean_loss)(view.unflatten(flat), x, y))

    theta = view.flatten(params)

    def one(v: torch.Tensor) -> torch.Tensor:
        return jvp(grad_flat, (theta,), (v,))[1]

    return vmap(one)(vectors)


class HessianOperator:
    """v -> H v for the batch's mean loss at fixed parameters, reverse-over-reverse: the gradient's graph is built
    once (one forward and one differentiable backward) and every product is one backward through it, where
    `batch_hvp` re-runs the forward and backward per call. For the many sequential products of a Krylov method."""

    def __init__(self, net: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor, loss: Loss = cross_entropy):
        self.view = FlatView.of(params)
        self.leaves = [p.detach().clone().requires_grad_(True) for p in params.values()]
        with torch.enable_grad():
            value = mean_loss_fn(net, loss)(dict(zip(params, self.leaves)), x, y)
            self.grads = torch.autograd.grad(value, self.leaves, create_graph=True)

    def __call__(self, vector: torch.Tensor) -> torch.Tensor:
        """[P] H v for a flat [P] vector."""
        pieces = [piece.view_as(g) for piece, g in zip(torch.split(vector, self.view.sizes), self.grads)]
        with torch.enable_grad():
            product = torch.autograd.grad(self.grads, self.leaves, grad_outputs=pieces, retain_graph=True)
        return torch.cat([p.reshape(-1) for p in product])
