"""The hierarchical bootstrap behind every interval and paired comparison, and the fast ranks it needs.

One set of draws serves every method and metric of an analysis, so that two methods' values are compared on the
same resamples (paired). A resample draws the seeds (multinomial counts: each drawn seed brings its K
checkpoints, as a run's checkpoints are not independent posterior samples), then the test items. The seeds are
drawn `SEED_DRAWS` times and each seed draw is paired with `RESAMPLES / SEED_DRAWS` item draws: a value that must
be recomputed for a new set of seeds (a posterior mean's correlation, whose ranks change with the seeds) is
computed once per seed draw, and the item draws then weight its per-item values. Training subsets, where an
experiment has replicates, are the level above (the replicate study resamples them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

RESAMPLES = 1000
SEED_DRAWS = 200
LEVEL = 0.95
BOOTSTRAP_SEED = 0


def ranks(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Average ranks (1..n) along `axis`, as scipy.stats.rankdata(values, axis=axis): argsort on a contiguous last
    axis (several times faster), with scipy's tie averaging for the rows that have ties."""
    moved = np.ascontiguousarray(np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1))
    n = moved.shape[-1]
    order = np.argsort(moved, axis=-1)  # quicksort: ties are re-ranked below, so stability is not needed
    out = np.empty(moved.shape, dtype=np.float64)
    np.put_along_axis(out, order, np.broadcast_to(np.arange(1, n + 1, dtype=np.float64), moved.shape), axis=-1)
    ordered = np.take_along_axis(moved, order, axis=-1)
    tied = (np.diff(ordered, axis=-1) == 0).any(axis=-1)
    if tied.any():
        out[tied] = rankdata(moved[tied], axis=-1)
    return np.moveaxis(out, -1, axis)


@dataclass(frozen=True)
class Draws:
    """Multinomial counts of one hierarchical bootstrap: seeds [SEED_DRAWS, S], test items [RESAMPLES, n_test];
    resample r uses seed draw r // (RESAMPLES / SEED_DRAWS)."""

    seeds: np.ndarray
    items: np.ndarray

    @property
    def resamples(self) -> int:
        return len(self.items)

    @property
    def seed_draw(self) -> np.ndarray:
        """[RESAMPLES] the seed draw of each resample."""
        return np.arange(self.resamples) * len(self.seeds) // self.resamples


def draw(n_seeds: int, n_items: int, resamples: int = RESAMPLES, seed_draws: int = SEED_DRAWS,
         seed: int = BOOTSTRAP_SEED) -> Draws:
    """The draws for S seeds and n_test items (the same for every method of the same shape: a fixed generator)."""
    rng = np.random.default_rng(seed)
    seed_draws = min(seed_draws, resamples)
    seeds = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=seed_draws) if n_seeds > 1 else \
        np.ones((seed_draws, 1), dtype=np.int64)
    items = rng.multinomial(n_items, np.full(n_items, 1 / n_items), size=resamples)
    return Draws(seeds.astype(np.float64), items.astype(np.float64))


def item_weighted(per_item: np.ndarray, draws: Draws) -> np.ndarray:
    """[RESAMPLES] mean over resampled test items of per-item values [SEED_DRAWS, n_test] (each resample reads its
    seed draw's row) or [n_test] (no seed level); NaN items are left out of each mean, as of the estimate."""
    rows = per_item[None] if per_item.ndim == 1 else per_item
    finite = np.isfinite(rows)
    values = np.where(finite, rows, 0.0)
    pick = np.zeros(draws.resamples, dtype=int) if per_item.ndim == 1 else draws.seed_draw
    numerator = (values[pick] * draws.items).sum(axis=1)
    denominator = (finite[pick] * draws.items).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return numerator / denominator


def seed_and_item_weighted(per_sample: np.ndarray, draws: Draws) -> np.ndarray:
    """[RESAMPLES] mean of per-sample, per-item values [S, k, n_test] (one model's correlation per posterior sample)
    over resampled seeds (each with its k samples) and resampled test items; NaN entries left out."""
    finite = np.isfinite(per_sample)
    sums = np.where(finite, per_sample, 0.0).sum(axis=1)  # [S, n_test]
    counts = finite.sum(axis=1).astype(np.float64)
    seeds = draws.seeds[draws.seed_draw]  # [R, S]
    numerator = ((seeds @ sums) * draws.items).sum(axis=1)
    denominator = ((seeds @ counts) * draws.items).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return numerator / denominator


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The percentile interval of resampled values (NaN resamples left out; NaN, NaN if none is finite)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)
