"""Noise decomposition: how much of a pair's score variance comes from the seed vs the checkpoint.

For each pair, with s[seed, checkpoint]: total variance about the grand mean = between-seed part
(variance of the per-seed means) + within-run part (mean over seeds of the variance across that seed's
checkpoints), both with ddof=0 so the two add up exactly. Summed over pairs, their fractions test the
paper's claim that model initialisation dominates batch composition.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core.io import save_csv
from .posterior import PosteriorScores


def decompose(post: PosteriorScores) -> dict[str, float]:
    values = post.values  # [S, C, n, m]
    if values.shape[1] == 1:  # one sample per seed (e.g. TracInCP): nothing within a run to compare
        return {"method": post.method, "between_seed_variance": float(values[:, 0].var(axis=0).sum()),
                "within_run_variance": float("nan"), "between_seed_fraction": float("nan"),
                "within_run_fraction": float("nan")}
    between = values.mean(axis=1).var(axis=0).sum()
    within = values.var(axis=1).mean(axis=0).sum()
    total = between + within
    return {"method": post.method, "between_seed_variance": float(between), "within_run_variance": float(within),
            "between_seed_fraction": float(between / total) if total > 0 else float("nan"),
            "within_run_fraction": float(within / total) if total > 0 else float("nan")}


def compute_noise(posteriors: dict[str, PosteriorScores], folder: Path | None = None) -> pd.DataFrame:
    """One row per method; written to `folder`/noise_decomposition.csv when given."""
    table = pd.DataFrame([decompose(p) for p in posteriors.values()])
    if folder is not None:
        save_csv(table, folder / "noise_decomposition.csv")
    return table
