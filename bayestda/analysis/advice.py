"""The paper's advice tested: are the pairs a test calls reliable more accurate than the others?

For each method and test, at the method's largest K: the pairs passing the test (p < 0.05) and the pairs failing
it. In each group, the sign agreement of the method's posterior mean (helpful sign applied) with the LOO truth's
posterior mean (pairs where either is exactly 0 left out: a zero claims no sign), and the Spearman correlation between the two over
the group's same-class pairs, pooled over test items (within-class accuracy). The difference in sign agreement
(passing − failing) has a 95% interval over resampled test items (the seeds and the truth held fixed: conditional).
Trusting a test's reliable pairs "buys accuracy" for a method where that interval lies above 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .classes import ItemClasses
from .posterior import PosteriorScores
from .resampling import Draws, percentile_interval
from .statistics import TESTS


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return numerator / denominator


def _pooled_spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman over the given pairs (NaN with fewer than 3 or a constant side)."""
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def advice_rows(method: str, scores: PosteriorScores, k: int, sign: int, truth_mean: np.ndarray,
                classes: ItemClasses | None, draws: Draws) -> list[dict]:
    """One row per test: how accurate the method's passing and failing pairs are."""
    samples = scores.last_k_mean(k)
    mu = sign * samples.mean(axis=0)
    defined = (truth_mean != 0) & (mu != 0)  # a zero score claims no sign
    agree = (np.sign(mu) == np.sign(truth_mean)) & defined
    same = classes.same() if classes is not None else None
    rows = []
    for test in TESTS:
        passing = test.pvalues(samples) < 0.05
        counts = {}
        for name, group in (("passing", passing), ("failing", ~passing)):
            counts[name] = ((agree & group).sum(axis=0).astype(float), (defined & group).sum(axis=0).astype(float))
        share = {name: float(a.sum() / n.sum()) if n.sum() else float("nan") for name, (a, n) in counts.items()}
        resampled = {name: _ratio(draws.items @ a, draws.items @ n) for name, (a, n) in counts.items()}
        difference = resampled["passing"] - resampled["failing"]
        # a group empty in more than the interval's tail of resamples: too few pairs for an interval
        low, high = percentile_interval(difference) if np.isnan(difference).mean() <= 0.025 else (np.nan, np.nan)
        row = {"method": method, "test": test.label(len(scores.seeds)), "K": k,
               "passing_pairs": int(passing.sum()), "passing_share": float(passing.mean()),
               "sign_agreement_passing": share["passing"], "sign_agreement_failing": share["failing"],
               "sign_agreement_difference": share["passing"] - share["failing"],
               "sign_agreement_difference_cond_lo": low, "sign_agreement_difference_cond_hi": high}
        if same is not None:
            for name, group in (("passing", passing), ("failing", ~passing)):
                chosen = group & same
                row[f"within_class_spearman_{name}"] = _pooled_spearman(mu[chosen], truth_mean[chosen])
        rows.append(row)
    return rows


def advice_table(posteriors: dict[str, PosteriorScores], ks: dict[str, int], signs: dict[str, int], truth: str,
                 classes: ItemClasses | None, draws: Draws) -> pd.DataFrame:
    """advice.csv: every method but the truth itself, every test."""
    truth_mean = signs.get(truth, 1) * posteriors[truth].values.mean(axis=(0, 1))
    rows = []
    for method, scores in posteriors.items():
        if method != truth:
            rows += advice_rows(method, scores, ks[method], signs.get(method, 1), truth_mean, classes, draws)
    return pd.DataFrame(rows)


def buys_accuracy(table: pd.DataFrame, test: str) -> dict[str, str]:
    """Per method, under one test (its `test` label): "yes" where passing pairs agree in sign with the truth more
    often than failing ones (interval above 0), "no" where less (below 0), "not separated", or "no passing pairs"."""
    out = {}
    for _, row in table[table["test"] == test].iterrows():
        if row["passing_pairs"] == 0 or np.isnan(row["sign_agreement_difference_cond_lo"]):
            out[row["method"]] = "no passing pairs" if row["passing_pairs"] == 0 else "too few pairs"
        elif row["sign_agreement_difference_cond_lo"] > 0:
            out[row["method"]] = "yes"
        elif row["sign_agreement_difference_cond_hi"] < 0:
            out[row["method"]] = "no"
        else:
            out[row["method"]] = "not separated"
    return out
