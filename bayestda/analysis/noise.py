"""Noise decomposition: how much of a pair's score variance comes from the seed vs the checkpoint.

Two views, both summed over pairs, with s[seed, checkpoint] per pair:
- the paper's shares: total variance about the grand mean = between-seed part (variance of the per-seed means)
  + within-run part (mean over seeds of the variance across that seed's checkpoints), both ddof=0 so the two add
  up exactly. Its between-seed share has a floor: iid noise over S seeds x K checkpoints reads (1 − 1/S)/K
  between seeds (18% at 10 x 5), which the `random` control shows.
- variance components (one-way random effects, seeds as groups, K checkpoints each): MSB = K·Var_s(seed means)
  and MSW = the pooled within-seed variance (both unbiased, ddof=1); the seed component σ²_seed = (MSB − MSW)/K,
  the within-run component σ²_run = MSW, and the seed share σ²_seed/(σ²_seed + σ²_run) (the intraclass
  correlation), 0 in expectation for iid noise. A negative σ²_seed estimate (seed means vary less than the
  checkpoints predict) is reported as it is and its share clipped to 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.io import save_csv
from .posterior import PosteriorScores

NAN_ROW = {"within_run_variance": float("nan"), "between_seed_fraction": float("nan"),
           "within_run_fraction": float("nan"), "seed_component": float("nan"), "run_component": float("nan"),
           "seed_component_share": float("nan")}


def variance_components(values: np.ndarray) -> tuple[float, float]:
    """(σ²_seed, σ²_run) of values [S, K, ...], summed over the trailing axes (one-way random effects, balanced)."""
    seeds, k = values.shape[:2]
    msb = k * values.mean(axis=1).var(axis=0, ddof=1)
    msw = values.var(axis=1, ddof=1).mean(axis=0)
    return float(((msb - msw) / k).sum()), float(msw.sum())


def decompose(post: PosteriorScores) -> dict[str, float]:
    values = post.values  # [S, C, n, m]
    if values.shape[1] == 1:  # one sample per seed (e.g. TracInCP): nothing within a run to compare
        return {"method": post.method, "between_seed_variance": float(values[:, 0].var(axis=0).sum()), **NAN_ROW}
    between = values.mean(axis=1).var(axis=0).sum()
    within = values.var(axis=1).mean(axis=0).sum()
    total = between + within
    seed, run = variance_components(values)
    components = max(seed, 0.0) + run
    return {"method": post.method, "between_seed_variance": float(between), "within_run_variance": float(within),
            "between_seed_fraction": float(between / total) if total > 0 else float("nan"),
            "within_run_fraction": float(within / total) if total > 0 else float("nan"),
            "seed_component": seed, "run_component": run,
            "seed_component_share": max(seed, 0.0) / components if components > 0 else float("nan")}


def compute_noise(posteriors: dict[str, PosteriorScores], folder: Path | None = None) -> pd.DataFrame:
    """One row per method; written to `folder`/noise_decomposition.csv when given."""
    table = pd.DataFrame([decompose(p) for p in posteriors.values()])
    if folder is not None:
        save_csv(table, folder / "noise_decomposition.csv")
    return table
