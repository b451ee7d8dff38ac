"""run_correlation_analysis: Pearson and Spearman matrices between methods of μ, σ and μ/σ (K = 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiment import Experiment
from ..io import save_csv
from .posterior import PosteriorScores
from .statistics import mean_std, signal_to_noise

STATISTICS = {"mu": "mean μ", "sigma": "standard deviation σ", "snr": "μ/σ"}


def flattened_statistics(posteriors: dict[str, PosteriorScores], k: int = 5) -> dict[str, pd.DataFrame]:
    """{statistic: DataFrame with one column per method, one row per train-test pair}."""
    out: dict[str, dict[str, np.ndarray]] = {s: {} for s in STATISTICS}
    for method, post in posteriors.items():
        samples = post.last_k_mean(k)
        mu, sigma = mean_std(samples)
        out["mu"][method], out["sigma"][method] = mu.ravel(), sigma.ravel()
        out["snr"][method] = signal_to_noise(samples).ravel()
    return {s: pd.DataFrame(columns) for s, columns in out.items()}


def correlation_matrices(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Pearson and Spearman matrices between the columns (pairs with a non-finite value dropped)."""
    finite = table.replace([np.inf, -np.inf], np.nan).dropna()
    return {"pearson": finite.corr(method="pearson"), "spearman": finite.corr(method="spearman")}


def compute_correlations(experiment: Experiment, posteriors: dict[str, PosteriorScores]) -> dict[str, pd.DataFrame]:
    """Write <kind>_corr_<statistic>.csv for kind in pearson/spearman and statistic in mu/sigma/snr."""
    out = {}
    for statistic, table in flattened_statistics(posteriors).items():
        for kind, matrix in correlation_matrices(table).items():
            name = f"{kind}_corr_{statistic}"
            save_csv(matrix, experiment.results_dir() / f"{name}.csv", index=True)
            out[name] = matrix
    return out
