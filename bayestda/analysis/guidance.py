"""Which method, when: per analysis (a regime: model, data, size), the best estimator on each within-class metric
with the ones that cannot be told from it, the ones to avoid, and what the best costs.

Read from methods.csv and, where present, comparisons.csv (Holm-corrected paired differences); a table without
comparisons (bayestda 0.4's study tables) falls back to non-overlapping intervals, and the row says so. "Avoid": a
method whose within-class value cannot be told from the `random` control's on either within-class metric (no
better than noise within a class). The LOO truth and the controls are not candidates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .comparisons import separation
from .methods_table import CONTROLS

WITHIN_CLASS = (("loo_corr_within_class_mean", "within-class LOO"), ("lds_within_class_mean", "within-class LDS"))
TRUTHS = ("loo", "loo_corrected")


def which_method(methods: pd.DataFrame, compared: pd.DataFrame | None = None) -> dict[str, str]:
    """One row of the "which method, when" table: per within-class metric the best estimator (value) and its ties,
    the methods to avoid, the best's seconds per checkpoint, and how separation was judged."""
    candidates = [m for m in methods.index if m not in CONTROLS and m not in TRUTHS]
    row: dict[str, str] = {}
    avoid = set()
    for column, title in WITHIN_CLASS:
        if column not in methods.columns:
            continue
        values = methods.loc[candidates, column].dropna().sort_values(ascending=False)
        if values.empty:
            continue
        best = values.index[0]
        separated = separation(methods, column, compared)
        ties = [m for m in values.index[1:] if not separated(best, m)]
        row[title] = f"{best} {values[best]:.2f}" + (f" (tied: {', '.join(ties)})" if ties else "")
        if "seconds_per_checkpoint" in methods.columns and np.isfinite(methods.loc[best, "seconds_per_checkpoint"]):
            row[f"{title}: s/ckpt"] = f"{methods.loc[best, 'seconds_per_checkpoint']:.2g}"
        if "random" in methods.index:
            avoid |= {m for m in values.index if not separated(m, "random")
                      or values[m] < methods.loc["random", column]}
    row["avoid (no better than random within a class)"] = ", ".join(sorted(avoid)) or "none"
    row["separation"] = "paired, Holm" if compared is not None and len(compared) else "intervals overlap"
    return row
