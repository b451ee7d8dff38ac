"""Arnoldi influence (Schioppa et al. 2022): the influence function with the Hessian replaced by its top
eigenpairs, found by the Arnoldi iteration on Hessian-vector products.

    τ(z_j, z) = −Σ_k (∇L(z_j)·v_k)(∇L(z)·v_k) / λ_k

over the `top` eigenvalues of largest magnitude of the train loss's Hessian at the checkpoint (the mean loss
over the train items, as `if`), from a Krylov space of `iterations` Hessian-vector products started at a fixed
random vector, with full re-orthogonalisation (twice, modified Gram-Schmidt) in float64. The Krylov matrix is
symmetrised and diagonalised (the Hessian is symmetric). Negative eigenvalues are kept, as in the paper's
distillation by magnitude; how many are negative is logged, and so are the kept pairs' residuals ‖Hv − λv‖
relative to |λ| (from the Arnoldi relation, no extra Hessian-vector product). Negative = helpful, as `if`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import torch

from ..errors import BadInput
from ..hvp import batch_hvp
from .context import CheckpointContext
from .registry import Method, register

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArnoldiSettings:
    """The Krylov dimension (Hessian-vector products), the eigenpairs kept, the start vector's seed."""

    iterations: int = 200
    top: int = 50
    seed: int = 0

    def check(self, num_params: int) -> ArnoldiSettings:
        if not 1 <= self.top <= self.iterations:
            raise BadInput(f"Arnoldi keeps {self.top} eigenvalues of {self.iterations} iterations; "
                           "allowed: 1 <= top <= iterations")
        if self.iterations > num_params:
            raise BadInput(f"Arnoldi iterations {self.iterations} exceed the model's {num_params} trainable parameters")
        return self


def arnoldi_eigenpairs(ctx: CheckpointContext, settings: ArnoldiSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """(eigenvalues [top], eigenvectors [top, P]) of the train loss's Hessian, largest magnitude first, float64."""
    numel = ctx.view.numel
    settings.check(numel)
    generator = torch.Generator().manual_seed(settings.seed)
    start = torch.randn(numel, generator=generator, dtype=torch.float64)
    basis = torch.empty(settings.iterations + 1, numel, dtype=torch.float64, device=ctx.device)
    basis[0] = (start / start.norm()).to(ctx.device)
    krylov = torch.zeros(settings.iterations + 1, settings.iterations, dtype=torch.float64)
    size = settings.iterations
    for j in range(settings.iterations):
        w = batch_hvp(ctx.net, ctx.params, ctx.train.x, ctx.train.y, basis[j][None].to(ctx.dtype), loss=ctx.loss)[0].double()
        for _ in range(2):  # re-orthogonalise twice: the basis stays orthonormal to float64 rounding
            coefficients = basis[: j + 1] @ w
            w = w - coefficients @ basis[: j + 1]
            krylov[: j + 1, j] += coefficients.cpu()
        krylov[j + 1, j] = w.norm().cpu()
        if krylov[j + 1, j] <= 1e-12 * krylov[: j + 1, : j + 1].abs().max():
            size = j + 1  # the Krylov space is invariant: its eigenpairs are exact
            break
        basis[j + 1] = w / krylov[j + 1, j]
    square = krylov[:size, :size]
    values, vectors = torch.linalg.eigh((square + square.T) / 2)
    order = values.abs().argsort(descending=True)[: settings.top]
    values, vectors = values[order], vectors[:, order]
    # Ritz residuals from the Arnoldi relation, no extra HVP: ‖H V y − θ V y‖ = h_{m+1,m} |y_m| (0 when invariant)
    residuals = krylov[size, size - 1].abs() * vectors[-1].abs() if size < krylov.shape[0] else torch.zeros(len(values))
    log.info("arnoldi: eigenpair residuals ‖Hv − λv‖ at most %.1e of |λ| over the %d kept (%d iterations)",
             (residuals / values.abs()).max().item(), len(values), size)
    negative = int((values < 0).sum())
    if negative:
        log.info("arnoldi: %d of the %d kept eigenvalues are negative (the checkpoint is not a minimum)", negative, len(values))
    return values, (vectors.T.to(basis.device) @ basis[:size])


def arnoldi_influence(ctx: CheckpointContext, settings: ArnoldiSettings = ArnoldiSettings()) -> torch.Tensor:
    """[n_train, n_test] Arnoldi influence scores."""
    values, vectors = arnoldi_eigenpairs(ctx, settings)
    ctx64 = ctx.at_dtype(torch.float64)
    train = ctx64.train_gradients().products(vectors)  # [top, n_train]
    test = ctx64.test_gradients().products(vectors)  # [top, n_test]
    return -(train.T / values[None, :]) @ test


register(Method("arnoldi", lambda ctx: arnoldi_influence(ctx).to(ctx.dtype), -1, "Arnoldi influence: the top 50 "
                "Hessian eigenpairs of 200 Arnoldi iterations (on request)", default=False,
                settings=asdict(ArnoldiSettings())))
