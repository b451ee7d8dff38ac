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

Intervals (`<metric>_lo`, `<metric>_hi`): 95% percentile bootstrap, 1000 resamples from a generator seeded with 0
(the same resamples for every method). "mean" values resample test items; "single" values resample test items and,
independently, seeds (each drawn seed brings its K checkpoints: the checkpoints of one run are not independent
posterior samples). The target (the LOO truth, the LDS models) is held fixed.

"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..core.errors import BayesTDAError
from ..data.subset_losses import SubsetLosses
from .classes import ItemClasses
from .posterior import PosteriorScores
from .pvalues import lead_rows, lead_test

log = logging.getLogger(__name__)

LOO_TRUTH = "loo_corrected"
RESAMPLES = 1000
LEVEL = 0.95
BOOTSTRAP_SEED = 0


def _correlation_of_centred(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson over axis -2 of centred a (the method's) and b (the target's): 0 where a is constant, NaN where b is."""
    norm_a, norm_b = np.sqrt((a**2).sum(axis=-2)), np.sqrt((b**2).sum(axis=-2))
    norm = norm_a * norm_b
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(norm > 0, (a * b).sum(axis=-2) / np.where(norm > 0, norm, 1.0), 0.0)
    return np.where(np.broadcast_to(norm_b, rho.shape) > 0, rho, np.nan)


def spearman_per_column(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of a[..., :, j] (a method's values) and b[..., :, j] (the target's) over axis -2, per
    test item j; ties get average ranks (as scipy's spearmanr); 0 where a is constant, NaN where b is."""
    ra, rb = rankdata(a, axis=-2), rankdata(b, axis=-2)
    return _correlation_of_centred(ra - ra.mean(axis=-2, keepdims=True), rb - rb.mean(axis=-2, keepdims=True))


def pearson_per_column(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of a[..., :, j] (a method's values) and b[..., :, j] (the target's) over axis -2, per
    test item j; 0 where a is constant, NaN where b is."""
    return _correlation_of_centred(a - a.mean(axis=-2, keepdims=True), b - b.mean(axis=-2, keepdims=True))


def within_class_per_column(a: np.ndarray, b: np.ndarray, classes: ItemClasses, per_column=spearman_per_column):
    """per_column over the train items of each test item's own class only ([..., n_test]; NaN for a test item of a
    class without train items)."""
    out = np.full(np.broadcast_shapes(a.shape, b.shape)[:-2] + (a.shape[-1],), np.nan)
    for train, test in classes.blocks():
        if len(train):
            out[..., test] = per_column(a[..., train, :][..., test], b[..., train, :][..., test])
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
    [seeds, k, n_test] (seeds with their k samples, and test items, resampled independently). NaN entries are
    left out of every resample's mean, as of the estimate."""
    values = per_item.reshape(1, 1, -1) if per_item.ndim == 1 else per_item
    finite = np.isfinite(values)
    sums = np.where(finite, values, 0.0).sum(axis=1)  # [seeds, n_test]
    counts = finite.sum(axis=1).astype(np.float64)
    rng = np.random.default_rng(seed)
    n_seeds, n_items = sums.shape
    seed_weights = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=resamples) if n_seeds > 1 else \
        np.ones((resamples, 1))
    item_weights = rng.multinomial(n_items, np.full(n_items, 1 / n_items), size=resamples)
    numerator = ((seed_weights @ sums) * item_weights).sum(axis=1)
    denominator = ((seed_weights @ counts) * item_weights).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = numerator / denominator
    means = means[np.isfinite(means)]
    if not len(means):
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def _same_items(scores: PosteriorScores, other: PosteriorScores | SubsetLosses) -> bool:
    """Whether two sets of numbers are about the same train and test items, in the same order."""
    return np.array_equal(scores.train_idx, other.train_idx) and np.array_equal(scores.test_idx, other.test_idx)


def loo_columns(scores: PosteriorScores, truth: PosteriorScores, k: int, sign: int = 1, truth_sign: int = 1,
                per_column=spearman_per_column, classes: ItemClasses | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per test item, the LOO correlation of each posterior sample [seeds, k, n_test] and of the posterior mean
    [n_test] (within each test item's class where `classes` are given)."""
    if not _same_items(scores, truth):
        raise BayesTDAError(f"LOO correlation: {scores.method!r} and {truth.method!r} score other train or test items; "
                            "both must score the same pairs")
    target = truth_sign * truth.values.mean(axis=(0, 1))  # [n_train, n_test]
    samples = sign * scores.values[:, -k:]  # [seeds, k, n_train, n_test]
    if classes is None:
        return per_column(samples, target[None, None]), per_column(samples.mean(axis=(0, 1)), target)
    return (within_class_per_column(samples, target[None, None], classes, per_column),
            within_class_per_column(samples.mean(axis=(0, 1)), target, classes, per_column))


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
    if not _same_items(scores, targets):
        raise BayesTDAError(f"LDS: {scores.method!r} scores other train or test items than the LDS subset models were "
                            "trained and tested on; both must use the same items in the same order")
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


def _with_intervals(row: dict, name: str, columns: tuple[np.ndarray, np.ndarray], what: str, over: str) -> None:
    """Put <name>_single, <name>_mean and their _lo/_hi into a methods-table row."""
    for kind, per_item in zip(("single", "mean"), columns):
        row[f"{name}_{kind}"] = mean_over_items(per_item, f"{what} ({kind})", over)
        row[f"{name}_{kind}_lo"], row[f"{name}_{kind}_hi"] = bootstrap_interval(per_item)


SPLIT_COLUMNS = ("fraction_p_below_0.05_same_class", "fraction_p_below_0.05_cross_class",
                 "significant_after_BH_5%_same_class", "significant_after_BH_5%_cross_class")


def methods_table(posteriors: dict[str, PosteriorScores], significance: pd.DataFrame, signs: dict[str, int],
                  truth: str | None = None, subset_losses: SubsetLosses | None = None,
                  seconds: dict[str, float] | None = None, classes: ItemClasses | None = None,
                  within_class_losses: SubsetLosses | None = None) -> pd.DataFrame:
    """Per method: its helpful sign, the lead test (the paper's z-test with 10 or more seeds, else the t-test) at
    the method's largest K (mean p, fraction p < 0.05, pairs significant after Benjamini-Hochberg, and with the
    items' classes the same-class and cross-class split); where the truth method is given, LOO correlation
    (Spearman, Pearson, and with classes within-class Spearman); with subset losses, LDS (random halves; with
    stratified ones, within-class LDS); each single and mean with its bootstrap interval; with seconds, the mean
    seconds per checkpoint its files took."""
    test = lead_test(significance)
    rows_of_test = lead_rows(significance, test)
    top = rows_of_test[rows_of_test["K"] == rows_of_test.groupby("method")["K"].transform("max")].set_index("method")
    rows = []
    for method, scores in posteriors.items():
        sign = signs.get(method, 1)
        row = {"method": method, "helpful_sign": sign, "test": top.loc[method, "test"],
               "K": int(top.loc[method, "K"]), "mean_p": top.loc[method, "mean_p"],
               "fraction_p_below_0.05": top.loc[method, "fraction_p_below_0.05"],
               "significant_after_BH_5%": int(top.loc[method, "significant_after_BH_5%"])}
        row.update({c: top.loc[method, c] for c in SPLIT_COLUMNS if c in top.columns})
        k = row["K"]
        if truth is not None:
            row["loo_truth"] = truth
            truth_sign = signs.get(truth, 1)
            what = f"LOO correlation of {method}"
            _with_intervals(row, "loo_corr", loo_columns(scores, posteriors[truth], k, sign, truth_sign), what,
                            "train items")
            _with_intervals(row, "loo_pearson", loo_columns(scores, posteriors[truth], k, sign, truth_sign,
                                                            pearson_per_column), f"Pearson {what}", "train items")
            if classes is not None:
                _with_intervals(row, "loo_corr_within_class", loo_columns(
                    scores, posteriors[truth], k, sign, truth_sign, classes=classes), f"within-class {what}",
                    "the train items of a class")
        if subset_losses is not None:
            row["lds_target"] = subset_losses.target
            _with_intervals(row, "lds", lds_columns(scores, subset_losses, k, sign), f"LDS of {method}", "subsets")
        if within_class_losses is not None:
            _with_intervals(row, "lds_within_class", lds_columns(scores, within_class_losses, k, sign),
                            f"within-class LDS of {method}", "stratified subsets")
        if seconds is not None:
            row["seconds_per_checkpoint"] = seconds.get(method, float("nan"))
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")
