"""Arnoldi influence (Schioppa et al. 2022): the influence function with the Hessian replaced by its top
eigenpairs, found by the Arnoldi iteration on Hessian-vector products.

    τ(z_j, z) = −Σ_k (∇L(z_j)·v_k)(∇L(z)·v_k) / λ_k

over the `top` eigenvalues of largest magnitude of the train loss's Hessian at the checkpoint (the mean loss
over the train items, as `if`), from a Krylov space of `iterations` Hessian-vector products started at a fixed
random vector (each product one backward through the train gradient's graph, built once with GELU's
derivatives cached in it: `hvp.HessianOperator`), with the symmetric three-term step and one full
re-orthogonalisation per product, the basis in the products' precision (float32 for the CNNs). The Krylov
matrix (float64) is symmetrised and diagonalised (the Hessian is symmetric). Negative eigenvalues are kept, as
in the paper's distillation by magnitude; how many are negative is logged, and so are the kept pairs' residuals
‖Hv − λv‖ relative to |λ| (from the Arnoldi relation, no extra Hessian-vector product). Negative = helpful,
as `if`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import torch

from ..core.errors import BadInput
from ..numerics.hvp import HessianOperator
from .context import CheckpointContext
from .registry import Method, register

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArnoldiSettings:
    """The Krylov dimension (Hessian-vector products), the eigenpairs kept, the start vector's seed."""

    iterations: int = 200
    top: int = 50
    seed: int = 0
    damping: float = 0.0  # δ added to each kept |λ_k| (0: Schioppa et al.'s undamped inverse; the damping curve)

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
    # the basis is kept in the products' precision (float32 for the CNNs: the operator is known to no better, and
    # re-orthogonalising against 200 x P vectors is memory traffic, half of it in float32); the Krylov matrix,
    # its eigendecomposition and the Ritz vectors are float64
    basis = torch.empty(settings.iterations + 1, numel, dtype=ctx.dtype, device=ctx.device)
    basis[0] = (start / start.norm()).to(ctx.device, ctx.dtype)
    krylov = torch.zeros(settings.iterations + 1, settings.iterations, dtype=torch.float64)
    size = settings.iterations
    hessian = HessianOperator(ctx.net, ctx.params, ctx.train.x, ctx.train.y, loss=ctx.loss)
    for j in range(settings.iterations):
        w = hessian(basis[j])
        # the symmetric (Lanczos) three-term step first, then one full re-orthogonalisation against the whole basis:
        # what is left to remove is rounding-sized, so one pass restores orthogonality to the basis's rounding
        for i in range(max(0, j - 1), j + 1):
            coefficient = basis[i] @ w
            w = w - coefficient * basis[i]
            krylov[i, j] += coefficient.double().cpu()
        coefficients = basis[: j + 1] @ w
        w = w - coefficients @ basis[: j + 1]
        krylov[: j + 1, j] += coefficients.double().cpu()
        krylov[j + 1, j] = w.double().norm().cpu()
        if krylov[j + 1, j] <= 1e-12 * krylov[: j + 1, : j + 1].abs().max():
            size = j + 1  # the Krylov space is invariant: its eigenpairs are exact
            break
        basis[j + 1] = w / krylov[j + 1, j].to(w.dtype)
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
    return values, (vectors.T.to(basis.device, basis.dtype) @ basis[:size]).double()


def arnoldi_influence(ctx: CheckpointContext, settings: ArnoldiSettings = ArnoldiSettings()) -> torch.Tensor:
    """[n_train, n_test] Arnoldi influence scores; with a damping δ, 1/λ_k becomes 1/(λ_k + sign(λ_k) δ): every
    kept eigenvalue moves away from zero, whatever its sign (the eigenpairs are computed once per context)."""
    key = f"arnoldi_{settings.iterations}_{settings.top}_{settings.seed}"
    values, vectors, test = ctx.cached(key, lambda: _projected(ctx, settings))
    train = ctx.cached(ctx.row_key(f"{key}_rows"), lambda: ctx.scored_gradients().products(vectors).double())
    values = values + torch.sign(values) * settings.damping
    return -(train.T / values[None, :]) @ test


def _projected(ctx: CheckpointContext, settings: ArnoldiSettings) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The eigenvalues (float64), the eigenvectors [top, P] and the test gradients' projections on them [top,
    n_test], in the context's precision (the shared per-sample gradients; float32 for the CNNs, as the eigenvectors'
    basis): with the scored items' projections, all the scores need at any damping."""
    values, vectors = arnoldi_eigenpairs(ctx, settings)
    vectors = vectors.to(ctx.dtype)
    return values, vectors, ctx.test_gradients().products(vectors).double()


register(Method("arnoldi", lambda ctx: arnoldi_influence(ctx).to(ctx.dtype), -1, "Arnoldi influence: the top 50 "
                "Hessian eigenpairs of 200 Arnoldi iterations (in the CNN's make reproduce)", default=False,
                settings=asdict(ArnoldiSettings()), version="3",  # 2: the basis in the products' precision; 3: GELU's
                # derivatives cached in the Hessian operator (the same eigenpairs to 3e-7)
                damped=lambda ctx, damping: arnoldi_influence(ctx, ArnoldiSettings(damping=damping)).to(ctx.dtype),
                phantoms=True))
