"""run_compute_pvalues: p-value matrices per method and K, mean p-values, and the significance table."""

from __future__ import annotations

import logging

import pandas as pd

from ..experiment import Experiment
from ..io import save_csv
from ..scores import to_frame
from .posterior import PosteriorScores
from .statistics import benjamini_hochberg, t_pvalues, z_pvalues

log = logging.getLogger(__name__)

KS = (1, 2, 3, 4, 5)


def compute_pvalues(experiment: Experiment, posteriors: dict[str, PosteriorScores]) -> pd.DataFrame:
    """Write pvalues_<method>_across_<K>_ckpts.csv, mean_p_values.csv and significance.csv; return the latter."""
    out = experiment.results_dir()
    mean_p = pd.DataFrame(index=pd.Index(KS, name="K"))
    rows = []
    for method, post in posteriors.items():
        for k in KS:
            samples = post.last_k_mean(k)
            p_z, p_t = z_pvalues(samples), t_pvalues(samples)
            save_csv(to_frame(p_z, post.train_idx, post.test_idx), out / f"pvalues_{method}_across_{k}_ckpts.csv")
            mean_p.loc[k, method] = p_z.mean()
            for test, p in (("z (paper)", p_z), ("t, 9 dof", p_t)):
                rows.append({"method": method, "K": k, "test": test, "mean_p": p.mean(),
                             "fraction_p_below_0.05": float((p < 0.05).mean()),
                             "significant_after_BH_5%": int(benjamini_hochberg(p).sum()), "pairs": p.size})
    save_csv(mean_p, out / "mean_p_values.csv", index=True)
    table = pd.DataFrame(rows)
    save_csv(table, out / "significance.csv")
    log.info("wrote p-values of %d methods to %s", len(posteriors), out)
    return table


def mean_pvalues(significance: pd.DataFrame) -> pd.DataFrame:
    """K x method table of mean p-values under the paper's z-test."""
    paper = significance[significance["test"] == "z (paper)"]
    return paper.pivot(index="K", columns="method", values="mean_p")
