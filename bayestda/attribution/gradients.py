"""Gradient-similarity methods: Grad-Dot, Grad-Cos and TracIn, as matrix products of per-sample gradients.

- GD (Grad-Dot):  τ(z_j, z) = ∇θ L(z_j) · ∇θ L(z)
- GC (Grad-Cos):  τ(z_j, z) = ∇θ L(z_j) · ∇θ L(z) / (‖∇θ L(z_j)‖ ‖∇θ L(z)‖)
- TracIn (TracInCP): τ(z_j, z) = Σ_t η_t ∇θ_t L(z_j) · ∇θ_t L(z); each checkpoint's file holds its term η_t·GD_t.
Signs: positive = helpful (the paper's raw signs).
"""

from __future__ import annotations

import torch

from ..core.errors import BayesTDAError
from .context import CheckpointContext
from .registry import Method, register


def grad_dot(ctx: CheckpointContext) -> torch.Tensor:
    """[n_train, n_test] dot products of train and test gradients."""
    return ctx.gradient_products().clone()


def grad_cos(ctx: CheckpointContext) -> torch.Tensor:
    """[n_train, n_test] cosine similarities of train and test gradients."""
    eps = torch.finfo(ctx.dtype).eps
    train_norms = ctx.scored_gradients().norms().clamp_min(eps)
    return ctx.gradient_products() / (train_norms[:, None] * ctx.test_gradients().norms().clamp_min(eps))


def tracin_term(ctx: CheckpointContext, lr: float | None = None) -> torch.Tensor:
    """This checkpoint's TracInCP term η_t · GD_t (η_t = the optimiser's learning rate at the checkpoint)."""
    return (ctx.adam.lr if lr is None else lr) * ctx.gradient_products()


def tracin(contexts: list[CheckpointContext], lrs: list[float] | None = None) -> torch.Tensor:
    """TracInCP over several checkpoints: the sum of their terms."""
    lrs = lrs or [None] * len(contexts)
    return sum(tracin_term(c, lr) for c, lr in zip(contexts, lrs))


def tracincp_term(ctx: CheckpointContext) -> torch.Tensor:
    """This checkpoint's TracInCP term η_e · GD_e with the training's own learning rate of the epoch that ended here
    (the ViT's decays linearly to 0; `tracin` weights every checkpoint by the optimiser's initial 1e-3)."""
    if ctx.lr is None:
        raise BayesTDAError("tracincp needs the checkpoint's learning rate; build the context with make_context")
    return ctx.lr * ctx.gradient_products()


register(Method("gd", grad_dot, +1, "Grad-Dot: dot product of train and test gradients", script="gd_and_gc", phantoms=True))
register(Method("gc", grad_cos, +1, "Grad-Cos: cosine of train and test gradients", script="gd_and_gc", phantoms=True))
register(Method("tracin", tracin_term, +1, "TracInCP term lr·GD of this checkpoint (sum the files for TracInCP)",
                script="tracin", phantoms=True))
register(Method("tracincp", tracincp_term, +1, "TracInCP: the sum over a seed's checkpoints of η_e·GD_e with the "
                "training's learning rate; one score per seed (on request)", default=False, per_seed=True, phantoms=True))
