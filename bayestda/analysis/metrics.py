"""The field's accuracy metrics beside the posterior test: LOO correlation and LDS, each from one posterior
sample and from the posterior mean, and the per-method table `methods.csv`.

LOO correlation (Koh & Liang 2017): per test item, the correlation over train items between a method's scores
and the leave-one-out effects, averaged over test items: Spearman (ranks, `loo_corr_*`) and Pearson (values,
`loo_pearson_*`, as dattri's `loo_corr` computes it). The LOO effects are the posterior mean
of `loo_corrected` (the retraining ground truth with the full-data twin run as baseline). Scores are compared
with their helpful sign applied (positive = helpful for every method), so a perfect method reads +1 whatever
its raw sign convention. "single" is the average over every posterior sample (seed x last-K checkpoint) of
one model's LOO correlation; "mean" is that of the method's posterior mean: whether averaging a method over the
posterior predicts retraining better than one model. Within-class (`loo_corr_within_class_*`, given the items'
classes): the Spearman correlation over the train items of the test item's own class only.

LDS (Park et al. 2023): for M halves S_m of the train set, the method predicts the effect of training on
S_m as the sum of its (helpful-signed) scores over S_m; per test item, the Spearman correlation over the M subsets
between that prediction and minus the actual test loss of the models trained on S_m (averaged over the target's
models) is averaged over test items. Single and mean as for the LOO correlation. Random halves give `lds_*`;
class-stratified halves (every subset keeps half of each class) give `lds_within_class_*`.

A method whose values do not vary where the correlation is taken (a constant column: the `same_class` control
within a class, or over stratified halves) ranks nothing: its correlation there is 0. Where the target does not
vary, the correlation is not defined and the test item is left out (logged).

Intervals (`<metric>_cond_lo`, `<metric>_cond_hi`): 95% percentile intervals of a hierarchical bootstrap
(`resampling.py`: 1000 resamples, the same for every method, so that differences are paired): seeds (each with
its K checkpoints), then test items. A posterior mean is recomputed from the drawn seeds, and so is the LOO truth
where it was made on the same seeds (both vary with the seeds); single-sample values resample the samples' seeds and
the items against the truth's full mean. "cond": conditional on the one training subset (and on the LDS target's
models); an interval over training subsets comes from replicates (the `replicate` study).

"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core.errors import BayesTDAError
from ..data.subset_losses import SubsetLosses
from .classes import ItemClasses
from .posterior import PosteriorScores
from .resampling import (
    BOOTSTRAP_SEED,
    LEVEL,
    RESAMPLES,
    Draws,
    draw,
    item_weighted,
    percentile_interval,
    ranks,
    seed_and_item_weighted,
)

log = logging.getLogger(__name__)

LOO_TRUTH = "loo_corrected"
CONDITIONAL = "cond"  # interval columns that hold the training subset fixed: <metric>_cond_lo, <metric>_cond_hi
CHUNK = 50  # seed draws whose posterior means are held in memory at once


def bounds(column: str, conditional: bool = True) -> tuple[str, str]:
    """The interval columns of a metric column: <column>_cond_lo/_hi (one training subset) or <column>_lo/_hi
    (resampling training subsets too)."""
    stem = f"{column}_{CONDITIONAL}" if conditional else column
    return f"{stem}_lo", f"{stem}_hi"


def interval_columns(frame: pd.DataFrame, column: str) -> tuple[str, str] | None:
    """The interval columns a table has for `column`: over subsets where present, else conditional, else None."""
    for conditional in (False, True):
        low, high = bounds(column, conditional)
        if low in frame.columns and high in frame.columns:
            return low, high
    return None


def _correlation_of_centred(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson over axis -2 of centred a (the method's) and b (the target's): 0 where a is constant, NaN where b is."""
    norm_a, norm_b = np.sqrt((a**2).sum(axis=-2)), np.sqrt((b**2).sum(axis=-2))
    norm = norm_a * norm_b
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(norm > 0, (a * b).sum(axis=-2) / np.where(norm > 0, norm, 1.0), 0.0)
    return np.where(np.broadcast_to(norm_b, rho.shape) > 0, rho, np.nan)


def centred_ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks over axis -2, centred: what Spearman correlates."""
    r = ranks(values, axis=-2)
    return r - r.mean(axis=-2, keepdims=True)


def centred(values: np.ndarray) -> np.ndarray:
    """Values centred over axis -2: what Pearson correlates."""
    return values - values.mean(axis=-2, keepdims=True)


def spearman_per_column(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of a[..., :, j] (a method's values) and b[..., :, j] (the target's) over axis -2, per
    test item j; ties get average ranks (as scipy's spearmanr); 0 where a is constant, NaN where b is."""
    return _correlation_of_centred(centred_ranks(a), centred_ranks(b))


def pearson_per_column(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of a[..., :, j] (a method's values) and b[..., :, j] (the target's) over axis -2, per
    test item j; 0 where a is constant, NaN where b is."""
    return _correlation_of_centred(centred(a), centred(b))


TRANSFORMS = {spearman_per_column: centred_ranks, pearson_per_column: centred}


def within_class_per_column(a: np.ndarray, b: np.ndarray, classes: ItemClasses, per_column=spearman_per_column):
    """per_column over the train items of each test item's own class only ([..., n_test]; NaN for a test item of a
    class without train items)."""
    out = np.full(np.broadcast_shapes(a.shape, b.shape)[:-2] + (a.shape[-1],), np.nan)
    for train, test in classes.blocks():
        if len(train):
            out[..., test] = per_column(a[..., train, :][..., test], b[..., train, :][..., test])
    return out


@dataclass
class PreparedTarget:
    """A target [..., n, n_test] transformed once (ranked or centred; per class block where within class), for
    correlating many methods' values against it per test item: what per_column(a, target) gives."""

    transform: object
    full: np.ndarray | None
    blocks: list = field(default_factory=list)  # (train positions, test positions, transformed block)

    @classmethod
    def of(cls, target: np.ndarray, per_column=spearman_per_column, classes: ItemClasses | None = None):
        transform = TRANSFORMS[per_column]
        if classes is None:
            return cls(transform, transform(target))
        return cls(transform, None, [(train, test, transform(target[..., train, :][..., test]))
                                     for train, test in classes.blocks() if len(train)])

    def correlate(self, a: np.ndarray) -> np.ndarray:
        if self.full is not None:
            return _correlation_of_centred(self.transform(a), self.full)
        shape = np.broadcast_shapes(a.shape[:-2], self.blocks[0][2].shape[:-2]) if self.blocks else a.shape[:-2]
        out = np.full(shape + (a.shape[-1],), np.nan)
        for train, test, target in self.blocks:
            out[..., test] = _correlation_of_centred(self.transform(a[..., train, :][..., test]), target)
        return out


def mean_over_items(rho: np.ndarray, what: str, over: str = "train items") -> float:
    """Average over test items, leaving out items where the target does not vary over `over` (logged, never silent)."""
    undefined = int(np.isnan(rho).sum())
    if undefined == rho.size:
        log.warning("%s: the target is constant over %s for every test item; not defined", what, over)
        return float("nan")
    if undefined:
        log.info("%s: %d of %d (sample, test item) columns with a target constant over %s, left out", what, undefined,
                 rho.size, over)
    return float(np.nanmean(rho))


def bootstrap_interval(per_item: np.ndarray, resamples: int = RESAMPLES, level: float = LEVEL,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-item correlations: [n_test] (test items resampled) or
    [seeds, k, n_test] (seeds with their k samples, then test items). NaN entries are left out of every
    resample's mean, as of the estimate."""
    n_seeds = 1 if per_item.ndim == 1 else per_item.shape[0]
    draws = draw(n_seeds, per_item.shape[-1], resamples, seed=seed)
    values = item_weighted(per_item, draws) if per_item.ndim == 1 else seed_and_item_weighted(per_item, draws)
    return percentile_interval(values, level)


def _same_items(scores: PosteriorScores, other: PosteriorScores | SubsetLosses) -> bool:
    """Whether two sets of numbers are about the same train and test items, in the same order."""
    return np.array_equal(scores.train_idx, other.train_idx) and np.array_equal(scores.test_idx, other.test_idx)


def _check_loo(scores: PosteriorScores, truth: PosteriorScores) -> None:
    if not _same_items(scores, truth):
        raise BayesTDAError(f"LOO correlation: {scores.method!r} and {truth.method!r} score other train or test items; "
                            "both must score the same pairs")


def _check_lds(scores: PosteriorScores, targets: SubsetLosses) -> None:
    if not _same_items(scores, targets):
        raise BayesTDAError(f"LDS: {scores.method!r} scores other train or test items than the LDS subset models were "
                            "trained and tested on; both must use the same items in the same order")


def correlation_for(per_column, classes: ItemClasses | None):
    """The per-test-item correlation over all train items, or within each test item's class."""
    if classes is None:
        return per_column
    return lambda a, b: within_class_per_column(a, b, classes, per_column)


def loo_columns(scores: PosteriorScores, truth: PosteriorScores, k: int, sign: int = 1, truth_sign: int = 1,
                per_column=spearman_per_column, classes: ItemClasses | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per test item, the LOO correlation of each posterior sample [seeds, k, n_test] and of the posterior mean
    [n_test] (within each test item's class where `classes` are given)."""
    _check_loo(scores, truth)
    target = truth_sign * truth.values.mean(axis=(0, 1))  # [n_train, n_test]
    samples = sign * scores.values[:, -k:]  # [seeds, k, n_train, n_test]
    correlate = correlation_for(per_column, classes)
    return correlate(samples, target[None, None]), correlate(samples.mean(axis=(0, 1)), target)


def loo_correlation(scores: PosteriorScores, truth: PosteriorScores, k: int, sign: int = 1,
                    truth_sign: int = 1, per_column=spearman_per_column,
                    classes: ItemClasses | None = None) -> tuple[float, float]:
    """(single, mean) LOO correlation of a method at K = k (each seed's last k checkpoints are its samples) against
    the truth's posterior mean over all its samples: one ground truth for every method, whatever its K (TracInCP
    has one sample per seed, K = 1, yet sums every checkpoint)."""
    single, mean = loo_columns(scores, truth, k, sign, truth_sign, per_column, classes)
    what = f"LOO correlation of {scores.method}"
    return mean_over_items(single, f"{what} (single)"), mean_over_items(mean, f"{what} (mean)")


def lds_columns(scores: PosteriorScores, targets: SubsetLosses, k: int, sign: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Per test item, the LDS of each posterior sample [seeds, k, n_test] and of the posterior mean [n_test]."""
    _check_lds(scores, targets)
    subsets = targets.subsets.astype(np.float64)  # [M, n_train]
    actual = -targets.losses.mean(axis=0)  # [M, n_test]: higher = the subset helped the test item more
    samples = sign * scores.values[:, -k:].astype(np.float64)  # [seeds, k, n_train, n_test]
    predicted = np.einsum("mi,skit->skmt", subsets, samples)
    return (spearman_per_column(predicted, actual[None, None]),
            spearman_per_column(subsets @ samples.mean(axis=(0, 1)), actual))


def lds(scores: PosteriorScores, targets: SubsetLosses, k: int, sign: int = 1) -> tuple[float, float]:
    """(single, mean) linear datamodeling score of a method at K = k against the subset models' test losses."""
    single, mean = lds_columns(scores, targets, k, sign)
    return (mean_over_items(single, f"LDS of {scores.method} (single)", "subsets"),
            mean_over_items(mean, f"LDS of {scores.method} (mean)", "subsets"))


# --- the hierarchical bootstrap of a metric --------------------------------------------------------------
@dataclass
class Resampled:
    """One metric of one method: its single-sample and posterior-mean values, and their values on each resample of
    the analysis's draws (the same draws for every method: differences are paired)."""

    single: float
    mean: float
    single_draws: np.ndarray  # [RESAMPLES]
    mean_draws: np.ndarray  # [RESAMPLES]

    def interval(self, kind: str) -> tuple[float, float]:
        return percentile_interval(self.single_draws if kind == "single" else self.mean_draws)


def seed_draw_means(seed_values: np.ndarray, draws: Draws):
    """Chunks of posterior means over each seed draw: seed_values [S, ...] -> [chunk, ...] (weights sum to S)."""
    flat = seed_values.reshape(len(seed_values), -1)
    for start in range(0, len(draws.seeds), CHUNK):
        weights = draws.seeds[start:start + CHUNK]
        yield (weights @ flat / weights.sum(axis=1, keepdims=True)).reshape(len(weights), *seed_values.shape[1:])


def _resampled(single: np.ndarray, mean: np.ndarray, mean_per_draw: np.ndarray, draws: Draws, what: str,
               over: str) -> Resampled:
    return Resampled(mean_over_items(single, f"{what} (single)", over), mean_over_items(mean, f"{what} (mean)", over),
                     seed_and_item_weighted(single, draws), item_weighted(mean_per_draw, draws))


@dataclass
class TruthTargets:
    """The LOO truth prepared once for every method it judges: its posterior mean over all its samples, and its mean
    over each seed draw (chunks of the draws, as seed_draw_means yields them)."""

    truth: PosteriorScores
    fixed: PreparedTarget
    per_draw: list[PreparedTarget]

    @classmethod
    def of(cls, truth: PosteriorScores, draws: Draws, truth_sign: int = 1, per_column=spearman_per_column,
           classes: ItemClasses | None = None) -> TruthTargets:
        seed_means = truth_sign * truth.values.mean(axis=1)
        return cls(truth, PreparedTarget.of(seed_means.mean(axis=0), per_column, classes),
                   [PreparedTarget.of(chunk, per_column, classes) for chunk in seed_draw_means(seed_means, draws)])


def loo_resampled(scores: PosteriorScores, targets: TruthTargets, k: int, draws: Draws, sign: int = 1) -> Resampled:
    """The LOO correlation (single, mean) with its resamples: each seed draw's posterior mean against the truth's
    mean over the same seeds (over all its seeds, fixed, where the truth was made on other seeds)."""
    _check_loo(scores, targets.truth)
    samples = sign * scores.values[:, -k:]
    single = targets.fixed.correlate(samples)
    mean = targets.fixed.correlate(samples.mean(axis=(0, 1)))
    paired = list(scores.seeds) == list(targets.truth.seeds)
    chunks = seed_draw_means(samples.mean(axis=1), draws)
    per_draw = [(target if paired else targets.fixed).correlate(chunk) for chunk, target in zip(chunks, targets.per_draw)]
    within = targets.fixed.full is None
    what = f"{'within-class ' if within else ''}LOO correlation of {scores.method}"
    return _resampled(single, mean, np.concatenate(per_draw), draws, what, "train items")


def lds_resampled(scores: PosteriorScores, targets: SubsetLosses, k: int, draws: Draws, sign: int = 1) -> Resampled:
    """The LDS (single, mean) with its resamples: each seed draw's posterior mean predicts the subsets (the
    target's models held fixed)."""
    single, mean = lds_columns(scores, targets, k, sign)
    subsets = targets.subsets.astype(np.float64)
    actual = -targets.losses.mean(axis=0)
    predicted_per_seed = np.einsum("mi,sit->smt", subsets, sign * scores.values[:, -k:].mean(axis=1))
    target = PreparedTarget.of(actual[None])
    per_draw = [target.correlate(chunk) for chunk in seed_draw_means(predicted_per_seed, draws)]
    return _resampled(single, mean, np.concatenate(per_draw), draws, f"LDS of {scores.method} ({targets.target})",
                      "subsets")
