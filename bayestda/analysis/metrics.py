"""The field's accuracy metrics beside the posterior test: LOO correlation and LDS, each from one posterior
sample and from the posterior mean, and the per-method table `methods.csv`.

LOO correlation (Koh & Liang 2017): per test item, the correlation over train items between a method's scores
and the leave-one-out effects, averaged over test items: Spearman (ranks, `loo_corr_*`) and Pearson (values,
`loo_pearson_*`, as dattri's `loo_corr` computes it). The LOO effects are the posterior mean
of `loo_corrected` (the retraining ground truth with the full-data twin run as baseline). Scores are compared
with their helpful sign applied (positive = helpful for every method), so a perfect method reads +1 whatever
its raw sign convention. "single" is the average over every posterior sample (seed x last-K checkpoint) of
one model's LOO correlation; "mean" is that of the method's posterior mean: whether averaging a method over the
posterior predicts retraining better than one model.

LDS (Park et al. 2023): for M random halves S_m of the train set, the method predicts the effect of training on
S_m as the sum of its (helpful-signed) scores over S_m; per test item, the Spearman correlation over the M subsets
between that prediction and minus the actual test loss of the models trained on S_m (averaged over the seeds'
models) is averaged over test items. Single and mean as for the LOO correlation.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..errors import BayesTDAError
from ..lds_targets import SubsetLosses
from .posterior import PosteriorScores
from .pvalues import lead_rows, lead_test

log = logging.getLogger(__name__)

LOO_TRUTH = "loo_corrected"


def spearman_per_column(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of a[..., :, j] and b[..., :, j] over the train axis (-2), per test item j; ties get
    average ranks (as scipy's spearmanr); NaN where either column is constant."""
    ra, rb = rankdata(a, axis=-2), rankdata(b, axis=-2)
    ra = ra - ra.mean(axis=-2, keepdims=True)
    rb = rb - rb.mean(axis=-2, keepdims=True)
    norm = np.sqrt((ra**2).sum(axis=-2) * (rb**2).sum(axis=-2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (ra * rb).sum(axis=-2) / np.where(norm > 0, norm, 1.0), np.nan)


def _mean_over_items(rho: np.ndarray, what: str, over: str = "train items") -> float:
    """Average over test items, leaving out items whose values do not vary over `over` (logged, never silent)."""
    undefined = int(np.isnan(rho).sum())
    if undefined == rho.size:
        log.warning("%s: every test item's values are constant over %s; not defined", what, over)
        return float("nan")
    if undefined:
        log.info("%s: %d of %d (sample, test item) columns constant over %s, left out", what, undefined, rho.size, over)
    return float(np.nanmean(rho))


def _same_items(scores: PosteriorScores, other: PosteriorScores | SubsetLosses) -> bool:
    """Whether two sets of numbers are about the same train and test items, in the same order."""
    return np.array_equal(scores.train_idx, other.train_idx) and np.array_equal(scores.test_idx, other.test_idx)


def pearson_per_column(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of a[..., :, j] and b[..., :, j] over the train axis (-2), per test item j; NaN where
    either column is constant."""
    a = a - a.mean(axis=-2, keepdims=True)
    b = b - b.mean(axis=-2, keepdims=True)
    norm = np.sqrt((a**2).sum(axis=-2) * (b**2).sum(axis=-2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (a * b).sum(axis=-2) / np.where(norm > 0, norm, 1.0), np.nan)


def loo_correlation(scores: PosteriorScores, truth: PosteriorScores, k: int, sign: int = 1,
                    truth_sign: int = 1, per_column=spearman_per_column) -> tuple[float, float]:
    """(single, mean) LOO correlation of a method at K = k (each seed's last k checkpoints are its samples) against
    the truth's posterior mean over all its samples: one ground truth for every method, whatever its K (TracInCP
    has one sample per seed, K = 1, yet sums every checkpoint)."""
    if not _same_items(scores, truth):
        raise BayesTDAError(f"LOO correlation: {scores.method!r} and {truth.method!r} score other train or test items; "
                            "both must score the same pairs")
    target = truth_sign * truth.values.mean(axis=(0, 1))  # [n_train, n_test]
    samples = sign * scores.values[:, -k:]  # [seeds, k, n_train, n_test]
    single = _mean_over_items(per_column(samples, target[None, None]), f"LOO correlation of {scores.method} (single)")
    mean = _mean_over_items(per_column(samples.mean(axis=(0, 1)), target), f"LOO correlation of {scores.method} (mean)")
    return single, mean


def lds(scores: PosteriorScores, targets: SubsetLosses, k: int, sign: int = 1) -> tuple[float, float]:
    """(single, mean) linear datamodeling score of a method at K = k against the subset models' test losses."""
    if not _same_items(scores, targets):
        raise BayesTDAError(f"LDS: {scores.method!r} scores other train or test items than the LDS subset models were "
                            "trained and tested on; both must use the same items in the same order")
    subsets = targets.subsets.astype(np.float64)  # [M, n_train]
    actual = -targets.losses.mean(axis=0)  # [M, n_test]: higher = the subset helped the test item more
    samples = sign * scores.values[:, -k:].astype(np.float64)  # [seeds, k, n_train, n_test]
    predicted = np.einsum("mi,skit->skmt", subsets, samples)
    single = _mean_over_items(spearman_per_column(predicted, actual[None, None]), f"LDS of {scores.method} (single)",
                              "subsets")
    mean = _mean_over_items(spearman_per_column(subsets @ samples.mean(axis=(0, 1)), actual),
                            f"LDS of {scores.method} (mean)", "subsets")
    return single, mean


def methods_table(posteriors: dict[str, PosteriorScores], significance: pd.DataFrame, signs: dict[str, int],
                  truth: str | None = None, subset_losses: SubsetLosses | None = None,
                  seconds: dict[str, float] | None = None) -> pd.DataFrame:
    """Per method: its helpful sign, the lead test (the paper's z-test with 10 or more seeds, else the t-test) at
    the method's largest K (mean p, fraction p < 0.05, pairs significant after Benjamini-Hochberg); where the
    truth method is given, LOO correlation (single, mean) against it; with subset losses, LDS (single, mean);
    with seconds, the mean seconds per checkpoint its files took."""
    test = lead_test(significance)
    rows_of_test = lead_rows(significance, test)
    top = rows_of_test[rows_of_test["K"] == rows_of_test.groupby("method")["K"].transform("max")].set_index("method")
    rows = []
    for method, scores in posteriors.items():
        row = {"method": method, "helpful_sign": signs.get(method, 1), "test": top.loc[method, "test"],
               "K": int(top.loc[method, "K"]), "mean_p": top.loc[method, "mean_p"],
               "fraction_p_below_0.05": top.loc[method, "fraction_p_below_0.05"],
               "significant_after_BH_5%": int(top.loc[method, "significant_after_BH_5%"])}
        if truth is not None:
            row["loo_truth"] = truth
            row["loo_corr_single"], row["loo_corr_mean"] = loo_correlation(
                scores, posteriors[truth], row["K"], signs.get(method, 1), signs.get(truth, 1))
            row["loo_pearson_single"], row["loo_pearson_mean"] = loo_correlation(
                scores, posteriors[truth], row["K"], signs.get(method, 1), signs.get(truth, 1), pearson_per_column)
        if subset_losses is not None:
            row["lds_single"], row["lds_mean"] = lds(scores, subset_losses, row["K"], signs.get(method, 1))
        if seconds is not None:
            row["seconds_per_checkpoint"] = seconds.get(method, float("nan"))
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")
