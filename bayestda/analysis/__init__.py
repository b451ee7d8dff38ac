"""Posterior statistics of TDA scores: p-values, correlations, noise decomposition, figures, summary."""

from __future__ import annotations

import logging

import pandas as pd

from ..attribution import METHODS
from ..experiment import Experiment
from .correlations import compute_correlations
from .figures import correlation_heatmaps, noise_figure
from .noise import compute_noise
from .posterior import check_complete, load_posterior
from .pvalues import compute_pvalues
from .summary import write_summary

log = logging.getLogger(__name__)


def load_all(experiment: Experiment, methods=METHODS, seeds=None) -> dict:
    check_complete(experiment, methods, seeds)
    return {m: load_posterior(experiment, m, seeds) for m in methods}


def run_pvalues(experiment: Experiment, methods=METHODS, seeds=None):
    return compute_pvalues(experiment, load_all(experiment, methods, seeds))


def run_correlations(experiment: Experiment, methods=METHODS, seeds=None) -> str:
    """Correlations, noise decomposition, their figures and the summary (p-values are recomputed if absent)."""
    posteriors = load_all(experiment, methods, seeds)
    significance_path = experiment.results_dir() / "significance.csv"
    if significance_path.exists():
        significance = pd.read_csv(significance_path)
    else:
        significance = compute_pvalues(experiment, posteriors)
    correlations = compute_correlations(experiment, posteriors)
    noise = compute_noise(experiment, posteriors)
    out = experiment.results_dir()
    for kind in ("spearman", "pearson"):
        correlation_heatmaps(correlations, kind, f"{experiment.name}: {kind} between methods (K = 5)", out / f"{kind}_corr")
    noise_figure(noise, f"{experiment.name}: sources of score variance", out / "noise_decomposition")
    n_seeds = len(next(iter(posteriors.values())).seeds)
    return write_summary(experiment, significance, correlations, noise, n_seeds)
