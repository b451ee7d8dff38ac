"""How high a metric can go against a noisy truth: split-half reliability, Spearman-Brown corrected.

The LOO truth is a posterior mean over S seeds; split them into two halves, correlate the halves' means per test
item (as the metric does: Spearman over train items, all or within the test item's class) and average over items:
r. Spearman-Brown gives the reliability of the full S-seed mean, ρ = 2r/(1 + r), and the ceiling, √ρ, is the
correlation the noiseless truth (its mean over infinitely many seeds) would reach with the truth we have: no method
can be expected above it. Over all splits of the seeds into halves (at most `MAX_SPLITS`, drawn with a fixed
generator). An LDS target's ceiling splits its models (R per subset) the same way, correlating over subsets.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from ..data.subset_losses import SubsetLosses
from .classes import ItemClasses
from .metrics import correlation_for
from .posterior import PosteriorScores
from .resampling import BOOTSTRAP_SEED

MAX_SPLITS = 64


def spearman_brown(r: float) -> float:
    """The reliability of a mean over twice the samples, from the correlation r between two halves."""
    return 2 * r / (1 + r) if r > -1 else float("nan")


def ceiling_of(reliability: float) -> float:
    """√reliability (0 where the halves do not agree at all)."""
    return float(np.sqrt(max(reliability, 0.0))) if np.isfinite(reliability) else float("nan")


def half_splits(n: int, max_splits: int = MAX_SPLITS, seed: int = BOOTSTRAP_SEED) -> list[np.ndarray]:
    """Index sets of the first half of each split of n samples into two halves (each split once; at most
    max_splits, drawn at random where there are more)."""
    if n < 2:
        return []
    firsts = [np.array(c) for c in combinations(range(n), n // 2) if 0 in c or n % 2]
    if len(firsts) > max_splits:
        chosen = np.random.default_rng(seed).choice(len(firsts), max_splits, replace=False)
        firsts = [firsts[i] for i in sorted(chosen)]
    return firsts


def split_half(samples: np.ndarray, correlate) -> float:
    """Mean over splits of the Spearman-Brown corrected agreement of two halves' means of samples [n, ...];
    correlate(a, b) gives per-test-item correlations (NaN items left out)."""
    n = len(samples)
    values = []
    for first in half_splits(n):
        second = np.setdiff1d(np.arange(n), first)
        r = np.nanmean(correlate(samples[first].mean(axis=0), samples[second].mean(axis=0)))
        values.append(spearman_brown(float(r)))
    return float(np.mean(values)) if values else float("nan")


def loo_reliability(truth: PosteriorScores, per_column, classes: ItemClasses | None = None) -> float:
    """Split-half reliability of the LOO truth's posterior mean (seeds split; each seed's mean over its samples)."""
    return split_half(truth.values.mean(axis=1), correlation_for(per_column, classes))


def lds_reliability(targets: SubsetLosses, per_column) -> float:
    """Split-half reliability of an LDS target (its models per subset split; minus the mean test loss)."""
    return split_half(-targets.losses, per_column)
