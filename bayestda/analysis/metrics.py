"""The field's accuracy metric beside the posterior test: LOO correlation, from one posterior sample and from the
posterior mean, and the per-method table `methods.csv`.

LOO correlation (Koh & Liang 2017; dattri): per test item, the Spearman correlation over train items between a
method's scores and the leave-one-out effects, averaged over test items. The LOO effects are the posterior mean
of `loo_corrected` (the retraining ground truth with the full-data twin run as baseline). Scores are compared
with their helpful sign applied (positive = helpful for every method), so a perfect method reads +1 whatever
its raw sign convention. "single" is the average over every posterior sample (seed x last-K checkpoint) of
one model's LOO correlation; "mean" is that of the method's posterior mean: whether averaging a method over the
posterior predicts retraining better than one model.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..errors import BayesTDAError
from .posterior import PosteriorScores

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


def _mean_over_items(rho: np.ndarray, what: str) -> float:
    """Average over test items, leaving out items whose scores do not vary over train items (logged, never silent)."""
    undefined = int(np.isnan(rho).sum())
    if undefined == rho.size:
        log.warning("LOO correlation of %s: every test item's scores are constant over train items; not defined", what)
        return float("nan")
    if undefined:
        log.info("LOO correlation of %s: %d of %d (sample, test item) columns constant over train items, left out",
                 what, undefined, rho.size)
    return float(np.nanmean(rho))


def loo_correlation(scores: PosteriorScores, truth: PosteriorScores, k: int, sign: int = 1,
                    truth_sign: int = 1) -> tuple[float, float]:
    """(single, mean) LOO correlation of a method at K = k (each seed's last k checkpoints are its samples)."""
    if not (np.array_equal(scores.train_idx, truth.train_idx) and np.array_equal(scores.test_idx, truth.test_idx)):
        raise BayesTDAError(f"LOO correlation: {scores.method!r} and {truth.method!r} score other train or test items; "
                            "both must score the same pairs")
    target = truth_sign * truth.values[:, -k:].mean(axis=(0, 1))  # [n_train, n_test]
    samples = sign * scores.values[:, -k:]  # [seeds, k, n_train, n_test]
    single = _mean_over_items(spearman_per_column(samples, target[None, None]), f"{scores.method} (single)")
    mean = _mean_over_items(spearman_per_column(samples.mean(axis=(0, 1)), target), f"{scores.method} (mean)")
    return single, mean


def methods_table(posteriors: dict[str, PosteriorScores], significance: pd.DataFrame,
                  truth: str | None = LOO_TRUTH) -> pd.DataFrame:
    """Per method: the paper's z-test at the method's largest K (mean p, fraction p < 0.05, pairs significant
    after Benjamini-Hochberg) and, where the truth method is present, LOO correlation (single, mean)."""
    from ..attribution.registry import helpful_signs

    signs = helpful_signs()
    z = significance[significance["test"] == "z (paper)"]
    top = z[z["K"] == z.groupby("method")["K"].transform("max")].set_index("method")
    rows = []
    for method, scores in posteriors.items():
        row = {"method": method, "K": int(top.loc[method, "K"]), "mean_p": top.loc[method, "mean_p"],
               "fraction_p_below_0.05": top.loc[method, "fraction_p_below_0.05"],
               "significant_after_BH_5%": int(top.loc[method, "significant_after_BH_5%"])}
        if truth is not None and truth in posteriors:
            k = min(row["K"], posteriors[truth].num_checkpoints)
            row["loo_corr_single"], row["loo_corr_mean"] = loo_correlation(
                scores, posteriors[truth], k, signs.get(method, 1), signs.get(truth, 1))
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")
