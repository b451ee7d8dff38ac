"""p-value matrices per method and K, mean p-values, and the significance table."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import save_csv
from .posterior import PosteriorScores
from .statistics import benjamini_hochberg, t_pvalues, z_pvalues

log = logging.getLogger(__name__)


def pvalue_frame(p: np.ndarray, post: PosteriorScores) -> pd.DataFrame:
    """A [n_train, n_test] matrix in the score files' layout (train_idx, then the test columns)."""
    frame = pd.DataFrame(p, columns=post.test_columns)
    frame.insert(0, "train_idx", post.train_idx)
    return frame


def compute_pvalues(posteriors: dict[str, PosteriorScores], out: Path | None = None) -> pd.DataFrame:
    """The significance table (one row per method, K and test); with `out`, also writes
    pvalues_<method>_across_<K>_ckpts.csv, mean_p_values.csv (K = 1..checkpoints) and significance.csv there.

    K is the number of last checkpoints averaged per seed before the statistics across seeds (the paper's).
    """
    ks = range(1, max(p.num_checkpoints for p in posteriors.values()) + 1)
    mean_p = pd.DataFrame(index=pd.Index(list(ks), name="K"))
    rows = []
    for method, post in posteriors.items():
        seeds = len(post.seeds)
        for k in range(1, post.num_checkpoints + 1):
            samples = post.last_k_mean(k)
            p_z, p_t = z_pvalues(samples), t_pvalues(samples)
            if out is not None:
                save_csv(pvalue_frame(p_z, post), out / f"pvalues_{method}_across_{k}_ckpts.csv")
            mean_p.loc[k, method] = p_z.mean()
            for test, p in (("z (paper)", p_z), (f"t, {seeds - 1} dof", p_t)):
                rows.append({"method": method, "K": k, "test": test, "mean_p": p.mean(),
                             "fraction_p_below_0.05": float((p < 0.05).mean()),
                             "significant_after_BH_5%": int(benjamini_hochberg(p).sum()), "pairs": p.size,
                             "seeds": seeds})
    table = pd.DataFrame(rows)
    if out is not None:
        save_csv(mean_p, out / "mean_p_values.csv", index=True)
        save_csv(table, out / "significance.csv")
        log.info("wrote p-values of %d methods to %s", len(posteriors), out)
    return table


def mean_pvalues(significance: pd.DataFrame) -> pd.DataFrame:
    """K x method table of mean p-values under the paper's z-test."""
    paper = significance[significance["test"] == "z (paper)"]
    return paper.pivot(index="K", columns="method", values="mean_p")[list(dict.fromkeys(paper["method"]))]
