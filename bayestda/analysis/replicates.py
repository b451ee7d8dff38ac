"""Replicates: the same cell on several draws of the training images. Per setting (e.g. depth) and method, each
headline value's mean over the draws, its SD, and a 95% interval of the mean over draws (t with n − 1 dof): the
interval that resamples the training set, beside each draw's own intervals, which hold it fixed (`_cond_`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

HEADLINE = ("fraction_p_below_0.05", "fraction_p_below_0.05_z", "fraction_p_below_0.05_t",
            "fraction_p_below_0.05_sign", "fraction_p_below_0.05_predictive", "fraction_p_below_0.05_same_class",
            "fraction_p_below_0.05_cross_class", "loo_corr_mean", "loo_corr_within_class_mean",
            "loo_scratch_corr_within_class_mean", "lds_mean", "lds_within_class_mean")


def replicate_table(table: pd.DataFrame, by: tuple[str, ...], draw: str = "subset_seed") -> pd.DataFrame:
    """One row per group of `by` and method: draws, and per headline value its mean, SD and interval over the
    draws (`<value>_lo`, `<value>_hi`; NaN with one draw)."""
    values = [c for c in HEADLINE if c in table.columns]
    rows = []
    for key, group in table.groupby([*by, "method"], sort=False):
        row = dict(zip([*by, "method"], key if isinstance(key, tuple) else (key,)))
        row["draws"] = int(group[draw].nunique())
        row["subset_seeds"] = " ".join(str(s) for s in sorted(group[draw].unique()))
        for column in values:
            x = group[column].to_numpy(dtype=float)
            x = x[np.isfinite(x)]
            mean = float(x.mean()) if len(x) else float("nan")
            sd = float(x.std(ddof=1)) if len(x) > 1 else float("nan")
            half = float(stats.t.ppf(0.975, len(x) - 1) * sd / np.sqrt(len(x))) if len(x) > 1 else float("nan")
            row[column], row[f"{column}_sd"] = mean, sd
            row[f"{column}_lo"], row[f"{column}_hi"] = mean - half, mean + half
        rows.append(row)
    return pd.DataFrame(rows)
