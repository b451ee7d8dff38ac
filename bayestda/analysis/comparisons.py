"""Paired differences between methods on the same resamples, with Holm's correction over the comparisons read.

For metric m and methods a, b the difference d = m(a) − m(b) is computed on every resample of the shared
hierarchical bootstrap (the same seeds and items for both: paired); its 95% percentile interval is given, and a
two-sided p-value from the bootstrap's standard error (p = 2·Φ(−|d|/sd(d*)), the normal approximation: with 1000
resamples a percentile p-value cannot go below 0.001, too coarse for a correction over ~100 comparisons). Holm's
step-down adjustment runs over every comparison of the table; a difference is `separated` where its adjusted p is
below 0.05.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .metrics import interval_columns
from .resampling import percentile_interval
from .statistics import holm

ALPHA = 0.05


def bootstrap_p(estimate: float, resampled: np.ndarray) -> float:
    """Two-sided p-value of a zero difference from its resampled values' standard error (1 where both are 0)."""
    finite = resampled[np.isfinite(resampled)]
    if not np.isfinite(estimate) or len(finite) < 2:
        return float("nan")
    spread = finite.std(ddof=1)
    if spread == 0:
        return 1.0 if estimate == 0 else 0.0
    return float(2 * stats.norm.sf(abs(estimate) / spread))


def compare(estimates: dict[str, float], draws: dict[str, np.ndarray], metric: str, pairs) -> list[dict]:
    """Rows for the (a, b) pairs of one metric: the paired difference, its interval and unadjusted p."""
    rows = []
    for a, b in pairs:
        difference = estimates[a] - estimates[b]
        resampled = draws[a] - draws[b]
        low, high = percentile_interval(resampled)
        rows.append({"metric": metric, "method": a, "versus": b, "difference": difference, "difference_cond_lo": low,
                     "difference_cond_hi": high, "p": bootstrap_p(difference, resampled)})
    return rows


def with_holm(rows: list[dict], alpha: float = ALPHA) -> pd.DataFrame:
    """The comparisons with Holm-adjusted p over all of them, and whether each difference is separated from 0."""
    table = pd.DataFrame(rows, columns=["metric", "method", "versus", "difference", "difference_cond_lo",
                                        "difference_cond_hi", "p"])
    tested = table["p"].notna()
    table["p_holm"] = np.nan
    table.loc[tested, "p_holm"] = holm(table.loc[tested, "p"].to_numpy())
    table["separated"] = table["p_holm"] < alpha
    table["comparisons"] = int(tested.sum())
    return table


def separation(methods: pd.DataFrame, column: str, compared: pd.DataFrame | None):
    """separated(a, b): whether a and b differ on `column`: Holm-corrected paired difference where comparisons.csv
    has the pair, else non-overlapping intervals."""
    rows = {} if compared is None else {
        frozenset((r.method, r.versus)): bool(r.separated) for r in compared[compared["metric"] == column].itertuples()}
    columns = interval_columns(methods, column)

    def separated(a: str, b: str) -> bool:
        if frozenset((a, b)) in rows:
            return rows[frozenset((a, b))]
        if columns is None:
            return False
        low, high = columns
        return methods.loc[a, low] > methods.loc[b, high] or methods.loc[b, low] > methods.loc[a, high]
    return separated
