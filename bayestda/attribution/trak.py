"""TRAK (Park et al. 2023) on one model: projected gradients of the margin, their inverse, out-to-loss weights.

    τ(z_i, z) = φ(z)ᵀ (ΦᵀΦ)⁺ φ_i · Q_i,   φ = P ∇θ m,   m = log(p / (1 − p)) of the true class,   Q_i = 1 − p_i,

with P a k x |θ| Gaussian random projection (entries N(0, 1/k), drawn from a fixed generator: the same P for
every seed and checkpoint) and Φ the [n_train, k] matrix of the train items' φ. (ΦᵀΦ)⁺Φᵀ is Φ's pseudo-inverse,
computed from the SVD of the small [n_train, k] matrix in float64: exactly TRAK's (ΦᵀΦ)⁻¹ where k <= n_train,
its minimum-norm limit where k > n_train (this repository's train sets hold 30-150 items, so ΦᵀΦ is singular
for any useful k). Positive = helpful (including the item raises the test margin). The posterior mean of `trak`
over seeds and checkpoints is TRAK's ensemble.

For the cross-entropy, ∇θ m = −∇θ ℓ / (1 − p) with p = exp(−ℓ): the per-sample loss gradients that every
gradient method shares are projected once and rescaled; no gradient is recomputed (tests/declarations/test_trak.py checks
the scores against the margin's own autograd gradients and an explicit (ΦᵀΦ)⁺ in float64). The test items are never
projected: P is pulled back through Φ⁺ once (B = Pᵀ Φ⁺, n_train columns) and each test gradient meets B, which is
k / n_train times fewer products (docs/speed.md).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from functools import lru_cache, partial

import torch

from ..core.errors import BadInput, BayesTDAError
from ..numerics.evaluation import losses_of_models
from .context import CheckpointContext
from .registry import Method, register

log = logging.getLogger(__name__)

BLOCK = 64  # projection rows drawn per generator seed: the projection never depends on memory settings
MIN_DIM, MAX_DIM = 1, 65536


@dataclass(frozen=True)
class TrakSettings:
    """k, the projection dimension, and the projection's generator seed."""

    dim: int = 512
    seed: int = 0

    def check(self, num_params: int | None = None) -> TrakSettings:
        if not isinstance(self.dim, int) or not MIN_DIM <= self.dim <= MAX_DIM:
            raise BadInput(f"TRAK projection dimension {self.dim!r} is out of range; allowed: {MIN_DIM}..{MAX_DIM} "
                           f"(default {TrakSettings.dim})")
        if num_params is not None and self.dim > num_params:
            raise BadInput(f"TRAK projection dimension {self.dim} exceeds the model's {num_params} trainable "
                           "parameters; pick a smaller --trak-dim")
        return self


def projection_rows(settings: TrakSettings, start: int, stop: int, num_params: int, dtype, device) -> torch.Tensor:
    """Rows start..stop of the k x |θ| projection (N(0, 1/k)); row block b always comes from seed (seed, b)."""
    blocks = []
    for block in range(start // BLOCK, (stop - 1) // BLOCK + 1):
        generator = torch.Generator().manual_seed(settings.seed * 1_000_003 + block)
        rows = torch.randn(BLOCK, num_params, generator=generator, dtype=torch.float32)
        lo, hi = max(start - block * BLOCK, 0), min(stop - block * BLOCK, BLOCK)
        blocks.append(rows[lo:hi])
    return (torch.cat(blocks) / settings.dim**0.5).to(device=device, dtype=dtype)


PROJECTION_CACHE_BYTES = 1 << 30  # a projection up to this size is kept for the process's next checkpoints


@lru_cache(maxsize=1)
def _kept_blocks(settings: TrakSettings, numel: int, dtype, device) -> tuple[torch.Tensor, ...]:
    return tuple(_drawn_blocks(settings, numel, dtype, device))


def _drawn_blocks(settings: TrakSettings, numel: int, dtype, device):
    for start in range(0, settings.dim, BLOCK):
        yield projection_rows(settings, start, min(start + BLOCK, settings.dim), numel, dtype, device)


def projection_blocks(settings: TrakSettings, numel: int, dtype, device):
    """The projection's row blocks in order: drawn once per process where they fit PROJECTION_CACHE_BYTES (every
    seed and checkpoint uses the same P), else drawn anew on each call."""
    if settings.dim * numel * torch.finfo(dtype).bits // 8 > PROJECTION_CACHE_BYTES:
        return _drawn_blocks(settings, numel, dtype, device)
    return iter(_kept_blocks(settings, numel, dtype, torch.device(device)))


def _scores_by_pulled_back_inverse(ctx: CheckpointContext, settings: TrakSettings, q_train: torch.Tensor,
                                   q_test: torch.Tensor) -> torch.Tensor:
    """[n_train, n_test] φ(z)ᵀ (ΦᵀΦ)⁺ φ_i without projecting the test gradients: with Φ = −(G_train Pᵀ) / q_train,
    φ(z)ᵀ Φ⁺ = −∇ℓ(z)ᵀ B / q(z) for B = Pᵀ Φ⁺ [|θ|, n_train], so the test side costs n_train products per item
    instead of k (Φ⁺ from the SVD of the small [n_train, k] matrix in float64, as before; docs/speed.md). Other
    scored items (phantoms) reuse Φ⁺ and the train items' rows, kept in the context."""
    inverse, test_products = ctx.cached(f"trak_train_rows_{settings}", lambda: _train_rows(ctx, settings, q_train))
    if ctx.scored is None:
        return -test_products / q_test[None, :] * q_train[:, None]
    # other items j (phantoms): (ΦᵀΦ)⁺ φ_j = Φ⁺ (Φ⁺ᵀ φ_j), so their rows are (Φ⁺ᵀ Φ_jᵀ)ᵀ times the train items' rows
    q_rows = _one_minus_p(losses_of_models(ctx.net, [ctx.params], ctx.scored.x, ctx.scored.y, loss=ctx.loss)[0],
                          "scored")
    phi_rows = -_projected(ctx, ctx.scored_gradients(), settings).double() / q_rows[:, None]  # [n_scored, k]
    coefficients = phi_rows @ inverse  # [n_scored, n_train] = (Φ⁺ᵀ Φ_scoredᵀ)ᵀ
    return -(coefficients @ test_products) / q_test[None, :] * q_rows[:, None]


def _train_rows(ctx: CheckpointContext, settings: TrakSettings, q_train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(Φ⁺ [k, n_train], (G_test B)ᵀ [n_train, n_test] in float64): what every scored item's rows are made from."""
    phi_train = -_projected(ctx, ctx.train_gradients(), settings).double() / q_train[:, None]
    inverse = torch.linalg.pinv(phi_train)  # [k, n_train] = (ΦᵀΦ)⁺ Φᵀ
    pulled_back, start = None, 0  # Bᵀ = Φ⁺ᵀ P [n_train, |θ|], block by block
    for rows in projection_blocks(settings, ctx.view.numel, ctx.dtype, ctx.device):
        part = inverse[start : start + len(rows)].T.to(ctx.dtype) @ rows
        pulled_back = part if pulled_back is None else pulled_back.add_(part)
        start += len(rows)
    return inverse, ctx.test_gradients().products(pulled_back).double()  # [n_train, n_test] = (G_test B)ᵀ


def _projected(ctx: CheckpointContext, gradients, settings: TrakSettings) -> torch.Tensor:
    """[n, k] = G Pᵀ: the items' gradients through the projection, block by block."""
    return torch.cat([gradients.products(rows) for rows in projection_blocks(settings, ctx.view.numel, ctx.dtype,
                                                                             ctx.device)]).T


def _one_minus_p(losses: torch.Tensor, what: str) -> torch.Tensor:
    """1 − p of the true class from cross-entropy losses (expm1: exact where p is near 1), kept above 1e-12."""
    out = -torch.expm1(-losses.double())
    tiny = int((out < 1e-12).sum())
    if tiny:
        log.warning("trak: %d %s items have p = 1 to float precision; their margin gradients are capped", tiny, what)
    return out.clamp_min(1e-12)


def one_minus_p(ctx: CheckpointContext) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, test) 1 − p of the true class at this checkpoint, float64: Q_i, TRAK's out-to-loss weights, and
    the margin gradients' scale."""
    train_losses = losses_of_models(ctx.net, [ctx.params], ctx.train.x, ctx.train.y, loss=ctx.loss)[0]
    return _one_minus_p(train_losses, "train"), _one_minus_p(ctx.test_losses(), "test")


def trak(ctx: CheckpointContext, settings: TrakSettings = TrakSettings()) -> torch.Tensor:
    """[n_train, n_test] TRAK scores at this checkpoint (one model)."""
    if ctx.loss.name != "cross_entropy" or ctx.measurement.name != "cross_entropy":
        raise BayesTDAError("trak needs the cross-entropy loss (its margin log(p/(1-p)) is the cross-entropy's); "
                            f"this model family uses {ctx.loss.name} / {ctx.measurement.name}")
    settings.check(ctx.view.numel)
    q_train, q_test = one_minus_p(ctx)
    return _scores_by_pulled_back_inverse(ctx, settings, q_train, q_test).to(ctx.dtype).contiguous()


def trak_method(settings: TrakSettings = TrakSettings()) -> Method:
    """The registry entry of TRAK with these settings (they are recorded with every file it writes)."""
    settings.check()
    return Method("trak", partial(trak, settings=settings), +1, "TRAK on one model: projected margin gradients, "
                  f"(ΦᵀΦ)⁺, out-to-loss weights, k = {settings.dim} (on request)", default=False, settings=asdict(settings),
                  configure=trak_method, version="2", phantoms=True)  # 2: the test side through B = Pᵀ Φ⁺ (the same scores to 3e-6)


register(trak_method())
