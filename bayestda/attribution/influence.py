"""Influence functions: τ(z_j, z) = −∇θ L(z_j) · s_test, with s_test ≈ H⁻¹ ∇θ L(z).

Paper (FastIF's LiSSA, `if`): h₀ = v = ∇θ L(z); over the train set in order, batches of 8, one pass:
    h ← v + (1 − damp)·h − H_b·h / scale,      s_test = h / scale,   damp = 5e-3, scale = 1e4,
with H_b the Hessian of the batch's mean loss (no weight decay). Its fixed point is (H + damp·scale·I)⁻¹ v
= (H + 50 I)⁻¹ v, but one pass over 30 items is 4 steps and gives s_test ≈ 4.95e-4·v: IF ≈ −c·GD.

The recursion is linear in v and every H_b is symmetric, so s_test = M v / scale with
M = I + A_K + A_K A_{K−1} + … + A_K⋯A_1, A_b = (1 − damp) I − H_b / scale. The scores need only
gᵀ M v = (Mᵀ g)ᵀ v, and Mᵀ g = Σ_j w_j with w_0 = g, w_j = A_{K−j+1} w_{j−1}: the same HVPs applied to the
train gradients with the batches in reverse order. We run whichever side has fewer vectors.

Corrected (`if_converged`): the inverse HVP solved exactly with a positive-definite curvature, the
Gauss-Newton matrix of the mean train loss plus the training objective's own L2 term,
    G = (1/n) Σ_i J_iᵀ (diag p_i − p_i p_iᵀ) J_i,    s = (G + λ I)⁻¹ v,   λ = weight decay = 5e-3,
through the Woodbury identity (rank ≤ n_train × classes). The exact Hessian is indefinite here, so CG on it
can diverge. G + λI has condition numbers near 2e4 at λ = 5e-3: in float32 the Woodbury step cancels enough
to put errors of 1e-3 of the score scale into the scores while the residual still reads 1e-6, so the solve
and the scores run in float64 (the `precision` setting) and what is reported is a bound on the score
error, not only the residual: |Δτ(j, z)| ≤ ‖∇L(z)‖ ‖(G + λI)s_j − v_j‖ / λ, since ‖(G + λI)⁻¹‖ ≤ 1/λ.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import torch
from torch.func import functional_call, jacrev, vmap

from ..core.losses import Loss
from ..numerics import layer_grads
from ..numerics.hvp import batch_hvp
from .context import CheckpointContext
from .registry import Method, register

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LissaSettings:
    """The paper's s_test hyper-parameters (FastIF): one pass, batches of 8, in train-set order."""

    damp: float = 5e-3
    scale: float = 1e4
    batch_size: int = 8


@dataclass(frozen=True)
class ConvergedSettings:
    """Exact Gauss-Newton solve: damping λ (default: the training weight decay), relative-residual tolerance, and
    the precision of the solve and its scores (float64: float32 loses 1e-3 of the score scale at condition 2e4)."""

    damping: float = 5e-3
    tolerance: float = 1e-4
    precision: str = "float64"


@dataclass
class InverseHVP:
    """Inverse-HVP vectors on one side: 'test' (s_test per test item) or 'train' (transposed)."""

    side: str
    vectors: torch.Tensor  # [r, P]
    indices: torch.Tensor  # canonical indices of the r items
    settings: dict
    residuals: torch.Tensor | None = None  # relative residual per item (converged solver)
    residual_norms: torch.Tensor | None = None  # absolute ‖(G + λI)s − v‖ per item (for the score error bound)
    error_bounds: torch.Tensor | None = None  # per item: bound on |Δτ| over the score scale, set when scored

    def to_blob(self) -> dict:
        return {"side": self.side, "vectors": self.vectors, "indices": self.indices,
                "settings": self.settings, "residuals": self.residuals, "residual_norms": self.residual_norms}

    @classmethod
    def from_blob(cls, blob: dict) -> InverseHVP:
        return cls(blob["side"], blob["vectors"], blob["indices"], blob["settings"], blob.get("residuals"),
                   blob.get("residual_norms"))


def choose_side(ctx: CheckpointContext, side: str = "auto") -> str:
    if side == "auto":
        return "train" if len(ctx.rows) <= len(ctx.test) else "test"
    if side not in ("train", "test"):
        raise ValueError(f"unknown side {side!r}; allowed: auto, train, test")
    return side


def _hvp(ctx: CheckpointContext, positions: torch.Tensor, vectors: torch.Tensor, chunk: int = 128) -> torch.Tensor:
    x, y = ctx.train.x[positions], ctx.train.y[positions]
    return torch.cat([batch_hvp(ctx.net, ctx.params, x, y, vectors[i : i + chunk], loss=ctx.loss)
                      for i in range(0, len(vectors), chunk)])


def lissa_batches(n: int, batch_size: int) -> list[torch.Tensor]:
    """The paper's `DataLoader(train, batch_size=8)` without shuffling: positions in order."""
    return list(torch.arange(n).split(batch_size))


def lissa(ctx: CheckpointContext, settings: LissaSettings = LissaSettings(), side: str = "auto") -> InverseHVP:
    """The paper's one-pass LiSSA for all items of one side at once (batched HVPs)."""
    side = choose_side(ctx, side)
    batches = lissa_batches(len(ctx.train), settings.batch_size)
    damp, scale = settings.damp, settings.scale
    if side == "test":
        v = ctx.test_grads()
        h = v.clone()
        for positions in batches:
            h = v + (1 - damp) * h - _hvp(ctx, positions, h) / scale
        vectors, indices = h / scale, ctx.test.idx
    else:
        w = ctx.scored_grads()
        total = w.clone()
        for positions in reversed(batches):
            w = (1 - damp) * w - _hvp(ctx, positions, w) / scale
            total += w
        vectors, indices = total / scale, ctx.rows.idx
    return InverseHVP(side, vectors, indices, {"method": "lissa", **asdict(settings)})


class _RootColumn(Loss):
    """Σ_i w_{y_i} · outputs_i for fixed weights (column c of each item's Hessian root L_i): item i's gradient is
    row c of L_iᵀ J_i. The labels passed are the items' positions, so that every chunk finds its own weights."""

    name = "gauss_newton_column"

    def __init__(self, weights: torch.Tensor) -> None:
        self.weights = weights

    def __call__(self, outputs: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        per_item = (outputs * self.weights[y]).sum(1)
        return per_item if reduction == "none" else per_item.sum() if reduction == "sum" else per_item.mean()


def gauss_newton_rows(ctx: CheckpointContext, chunk: int = 16) -> torch.Tensor:
    """[n·C, P] rows Uᵀ with U Uᵀ = the Gauss-Newton matrix of the mean train loss, item-major (item i's C rows
    L_iᵀ J_i together). Networks of Linear and Conv2d layers: each class's rows from one batched backward
    (layer_grads, C passes; 3x faster than vmap(jacrev) here, the same rows to 1e-15: docs/speed.md); others:
    vmap(jacrev) item by item."""
    net, params = ctx.net, ctx.params
    x, y = ctx.train.x, ctx.train.y
    if layer_grads.supports(net, params):
        with torch.no_grad():
            logits = functional_call(net, params, (x,))
        roots = vmap(ctx.loss.hessian_root)(logits, y)  # [n, C, C]: L_i L_iᵀ = the loss's Hessian in the outputs
        positions = torch.arange(len(x), device=x.device)
        out = x.new_empty(len(x), roots.shape[2], ctx.view.numel)
        for c in range(roots.shape[2]):
            layer_grads.per_sample_grads(net, params, x, positions, out=out[:, c], loss=_RootColumn(roots[:, :, c]))
        return out.flatten(0, 1) / len(x) ** 0.5
    view = ctx.view

    def logits_of(p, xi):
        return functional_call(net, p, (xi.unsqueeze(0),)).squeeze(0)

    def rows(p, xi, yi):
        jac = jacrev(logits_of)(p, xi)  # dict of [C, *shape]
        j = view.flatten(jac, batch_dims=1)  # [C, P]
        factor = ctx.loss.hessian_root(logits_of(p, xi), yi)  # L Lᵀ = the loss's Hessian in the outputs
        return factor.T @ j  # [C, P]

    batched = vmap(rows, in_dims=(None, 0, 0))
    out = torch.cat([batched(params, x[i : i + chunk], y[i : i + chunk]).flatten(0, 1) for i in range(0, len(x), chunk)])
    return out / len(x) ** 0.5


def solve_gauss_newton(rows: torch.Tensor, rhs: torch.Tensor, damping: float, tolerance: float,
                       max_refinements: int = 5, gram: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(G + λI)⁻¹ rhs for G = rowsᵀ rows by Woodbury, refined until the relative residual is below tolerance.

    (UUᵀ + λI)⁻¹ b = (b − U (λI + UᵀU)⁻¹ Uᵀ b) / λ with U = rowsᵀ; the small k x k system is factorised
    once in float64, products run in the working precision, and each refinement round re-solves for
    the residual b − (UUᵀ + λI) s. Returns the solution and ‖(G + λI) s − b‖ / ‖b‖ per right-hand side.
    `gram`: rows @ rows.T where already computed (it does not depend on λ: the damping curve computes it once).
    """
    gram = rows @ rows.T if gram is None else gram
    system = gram.double() + damping * torch.eye(len(rows), dtype=torch.float64, device=rows.device)
    factor = torch.linalg.cholesky(system)

    def apply_inverse(b: torch.Tensor) -> torch.Tensor:
        coeffs = torch.cholesky_solve((rows @ b.T).double(), factor).to(rows.dtype)  # [k, r]
        return (b - coeffs.T @ rows) / damping

    def apply(x: torch.Tensor) -> torch.Tensor:
        return (x @ rows.T) @ rows + damping * x

    norms = rhs.norm(dim=1).clamp_min(torch.finfo(rhs.dtype).tiny)
    solution = apply_inverse(rhs)
    for _ in range(max_refinements + 1):
        residual = rhs - apply(solution)
        relative = residual.norm(dim=1) / norms
        if relative.max() <= tolerance / 10:
            break
        solution = solution + apply_inverse(residual)
    return solution, relative


def converged(ctx: CheckpointContext, settings: ConvergedSettings = ConvergedSettings(), side: str = "auto") -> InverseHVP:
    """Exact damped Gauss-Newton inverse HVP for all items of one side, with residuals, in settings.precision."""
    ctx = ctx.at_dtype(getattr(torch, settings.precision))
    side = choose_side(ctx, side)
    rhs, indices = (ctx.test_grads(), ctx.test.idx) if side == "test" else (ctx.scored_grads(), ctx.rows.idx)
    rows = ctx.cached("gauss_newton_rows", lambda: gauss_newton_rows(ctx))  # shared by every damping of the curve
    gram = ctx.cached("gauss_newton_gram", lambda: rows @ rows.T)
    solution, residual = solve_gauss_newton(rows, rhs, settings.damping, settings.tolerance, gram=gram)
    worst = residual.max().item()
    if worst > settings.tolerance:
        log.warning("Gauss-Newton solve: max relative residual %.2e exceeds tolerance %.0e", worst, settings.tolerance)
    norms = residual * rhs.norm(dim=1)
    return InverseHVP(side, solution, indices, {"method": "gauss-newton-woodbury", **asdict(settings)}, residual, norms)


def influence_scores(ctx: CheckpointContext, inverse: InverseHVP) -> torch.Tensor:
    """[n_train, n_test] τ = −∇L(z_j) · s(z) from inverse-HVP vectors on either side (in the vectors' precision)."""
    ctx = ctx.at_dtype(inverse.vectors.dtype)
    if inverse.side == "test":
        return -ctx.scored_gradients().products(inverse.vectors).T
    return -ctx.test_gradients().products(inverse.vectors)


def score_error_bounds(other_norms: torch.Tensor, residual_norms: torch.Tensor, damping: float,
                       scores: torch.Tensor) -> torch.Tensor:
    """Per inverse-HVP vector, the bound on its scores' error over the score scale: |Δτ| ≤ ‖∇L(other side)‖ ‖r‖ / λ,
    since ‖(C + λI)⁻¹‖ ≤ 1/λ for any positive semi-definite curvature C (Gauss-Newton, EK-FAC)."""
    bound = other_norms.max() * residual_norms / damping
    return bound / scores.abs().max().clamp_min(torch.finfo(scores.dtype).tiny)


def converged_scores(ctx: CheckpointContext, inverse: InverseHVP) -> torch.Tensor:
    """if_converged's scores, with the bound on their error (over the score scale) logged and kept per item:
    |Δτ(j, z)| ≤ ‖∇L(other side)‖ ‖residual_j‖ / λ."""
    scores = influence_scores(ctx, inverse)
    if inverse.residual_norms is not None:
        exact = ctx.at_dtype(inverse.vectors.dtype)
        other = exact.test_gradients() if inverse.side == "train" else exact.scored_gradients()
        inverse.error_bounds = score_error_bounds(other.norms(), inverse.residual_norms, inverse.settings["damping"],
                                                  scores)
        log.info("if_converged: score error at most %.1e of the score scale (max relative residual %.1e)",
                 inverse.error_bounds.max().item(), inverse.residuals.max().item())
    return scores


def converged_at(ctx: CheckpointContext, damping: float) -> torch.Tensor:
    """if_converged's scores at another damping λ (the Gauss-Newton rows are computed once per context)."""
    return influence_scores(ctx, converged(ctx, ConvergedSettings(damping=damping)))


register(Method("if", influence_scores, -1, "influence function, the paper's one-pass LiSSA", script="if", inverse_hvp=lissa,
                settings=asdict(LissaSettings()), phantoms=True))
register(Method("if_converged", converged_scores, -1, "influence function, exact damped Gauss-Newton inverse",
                script="if", inverse_hvp=converged, settings=asdict(ConvergedSettings()), version="3",
                damped=converged_at, phantoms=True))  # 3: Gauss-Newton rows from batched backward passes (the same rows to 1e-15)
