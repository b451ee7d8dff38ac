"""Pearson and Spearman matrices between methods of μ, σ and μ/σ (each method's checkpoints all averaged per seed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.io import save_csv
from .posterior import PosteriorScores
from .statistics import mean_std, signal_to_noise

STATISTICS = {"mu": "mean μ", "sigma": "standard deviation σ", "snr": "μ/σ"}


def flattened_statistics(posteriors: dict[str, PosteriorScores]) -> dict[str, pd.DataFrame]:
    """{statistic: DataFrame with one column per method, one row per train-test pair} (K = all checkpoints)."""
    out: dict[str, dict[str, np.ndarray]] = {s: {} for s in STATISTICS}
    for method, post in posteriors.items():
        samples = post.last_k_mean(post.num_checkpoints)
        mu, sigma = mean_std(samples)
        out["mu"][method], out["sigma"][method] = mu.ravel(), sigma.ravel()
        out["snr"][method] = signal_to_noise(samples).ravel()
    return {s: pd.DataFrame(columns) for s, columns in out.items()}


def correlation_matrices(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Pearson and Spearman matrices between the columns (pairs with a non-finite value dropped)."""
    finite = table.replace([np.inf, -np.inf], np.nan).dropna()
    return {"pearson": finite.corr(method="pearson"), "spearman": finite.corr(method="spearman")}


def compute_correlations(posteriors: dict[str, PosteriorScores], folder: Path | None = None) -> dict[str, pd.DataFrame]:
    """{<kind>_corr_<statistic>: matrix} for kind in pearson/spearman and statistic in mu/sigma/snr; written as CSVs
    to `folder` when given."""
    out = {}
    for statistic, table in flattened_statistics(posteriors).items():
        for kind, matrix in correlation_matrices(table).items():
            out[f"{kind}_corr_{statistic}"] = matrix
    if folder is not None:
        save_correlations(out, folder)
    return out


def save_correlations(correlations: dict[str, pd.DataFrame], folder: Path) -> None:
    """Each matrix as `folder`/<name>.csv."""
    for name, matrix in correlations.items():
        save_csv(matrix, folder / f"{name}.csv", index=True)
