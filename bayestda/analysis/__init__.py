"""Posterior statistics of TDA scores: p-values, correlations, noise decomposition, figures, summary.

For anyone's scores, without an experiment of this repository:

    from bayestda.analysis import posterior_test
    result = posterior_test({"gd": scores_gd, "if": scores_if}, out="results/mine")  # arrays (seeds, ckpts, train, test)

or from a folder of score files in the paper's layout: `posterior_test(load_scores_dir("my_scores"), out=...)`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..io import save_csv
from ..lds import SubsetLosses, lds_available, lds_command, load_subset_losses
from .correlations import compute_correlations
from .figures import correlation_heatmaps, noise_figure
from .metrics import LOO_TRUTH, methods_table
from .noise import compute_noise
from .posterior import PosteriorScores, check_complete, check_current, load_posterior, load_scores_dir
from .pvalues import compute_pvalues, mean_pvalues
from .summary import write_summary

log = logging.getLogger(__name__)

__all__ = ["PosteriorResult", "PosteriorScores", "load_all", "load_scores_dir", "posterior_test", "run_correlations",
           "run_pvalues"]


@dataclass
class PosteriorResult:
    """What the posterior test says of a set of methods' scores (the same tables the CSVs hold)."""

    significance: pd.DataFrame  # per method, K and test: mean p, fraction p < 0.05, BH-significant pairs
    mean_p_values: pd.DataFrame  # K x method, the paper's z-test
    correlations: dict[str, pd.DataFrame]  # {pearson,spearman}_corr_{mu,sigma,snr}
    noise: pd.DataFrame  # between-seed and within-run shares of score variance
    methods: pd.DataFrame  # per method: z-test at the largest K, LOO correlation (single, mean) where LOO is given
    summary: str


def as_posteriors(scores) -> dict[str, PosteriorScores]:
    """{method: PosteriorScores} from {method: array (seeds, checkpoints, n_train, n_test)} or PosteriorScores."""
    return {m: s if isinstance(s, PosteriorScores) else PosteriorScores.from_array(m, s) for m, s in scores.items()}


def pvalues_of(scores, out: Path | str | None = None) -> pd.DataFrame:
    """The significance table of the scores; with `out`, the p-value CSVs are written there."""
    return compute_pvalues(as_posteriors(scores), None if out is None else Path(out))


def correlations_of(scores, out: Path | str | None = None, name: str = "scores",
                    significance: pd.DataFrame | None = None, truth: str | None = LOO_TRUTH,
                    subset_losses: SubsetLosses | None = None, seconds: dict[str, float] | None = None) -> PosteriorResult:
    """Correlations, noise decomposition, the methods table and summary (p-values computed unless given); with
    `out`, every file. `truth` names the method whose posterior mean is the LOO ground truth (if present);
    `subset_losses` (the LDS retraining's test losses) adds LDS; `seconds` (per method) adds its time column."""
    posteriors = as_posteriors(scores)
    folder = None if out is None else Path(out)
    significance = compute_pvalues(posteriors) if significance is None else significance
    correlations = compute_correlations(posteriors, folder)
    noise = compute_noise(posteriors, folder)
    methods = methods_table(posteriors, significance, truth, subset_losses, seconds)
    n_seeds = max(len(p.seeds) for p in posteriors.values())
    n_checkpoints = max(p.num_checkpoints for p in posteriors.values())
    if folder is not None:
        save_csv(methods, folder / "methods.csv", index=True)
        for kind in ("spearman", "pearson"):
            correlation_heatmaps(correlations, kind, f"{name}: {kind} between methods", folder / f"{kind}_corr")
        noise_figure(noise, f"{name}: sources of score variance", folder / "noise_decomposition")
    summary = write_summary(name, significance, correlations, noise, n_seeds, n_checkpoints, folder, methods, truth)
    return PosteriorResult(significance, mean_pvalues(significance), correlations, noise, methods, summary)


def posterior_test(scores, out: Path | str | None = None, name: str = "scores", truth: str | None = LOO_TRUTH,
                   subset_losses: SubsetLosses | None = None) -> PosteriorResult:
    """The paper's test for any scores: z-test p-values (and the t-test with S − 1 dof), Benjamini-Hochberg
    counts, correlations between methods and the noise decomposition; with `out`, every CSV, figure and
    summary.md, as for an experiment. `scores`: {method: array (seeds, checkpoints, n_train, n_test)}, numpy or
    torch, or PosteriorScores (e.g. from load_scores_dir). Everything is checked before anything is written.
    Where `truth` (default loo_corrected) is among the scores, methods.csv adds each method's LOO correlation;
    with `subset_losses` (bayestda.lds.SubsetLosses: M train subsets and the test losses of models trained on
    them), its LDS."""
    posteriors = as_posteriors(scores)
    significance = pvalues_of(posteriors, out)
    return correlations_of(posteriors, out, name, significance, truth, subset_losses)


# --- an experiment of this repository ------------------------------------------------------------------
def load_all(experiment, methods, seeds=None) -> dict[str, PosteriorScores]:
    """Every score file of the experiment's methods and seeds, checked: present, current, readable, and scoring
    the experiment's own train and test items (one line naming what is not, and the command that remakes it)."""
    from ..attribution.registry import per_seed_methods

    check_complete(experiment, methods, seeds)
    check_current(experiment, methods, seeds)
    per_seed = set(per_seed_methods())
    loaded = {m: load_posterior(experiment, m, seeds) for m in methods}
    return {m: post.summed_over_checkpoints() if m in per_seed else post for m, post in loaded.items()}


def _record(experiment, methods, seeds, names, lds_subsets: int | None = None) -> None:
    from .. import provenance
    from ..experiment import load_seeds

    folder = experiment.results_dir()
    provenance.record_results(experiment, methods, seeds or load_seeds(), [folder / n for n in names if (folder / n).exists()],
                              lds_subsets)


def subset_losses_for(experiment, seeds=None, lds_subsets: int | None = None) -> tuple[SubsetLosses | None, int | None]:
    """(the LDS subset models' test losses, M) of an experiment. lds_subsets None: the model task's M when every
    seed's file is current (else LDS is left out, saying which command adds it); 0: no LDS; M: required."""
    from ..lds import check_subsets

    if lds_subsets == 0:
        return None, None
    if lds_subsets is None:
        m = experiment.model_task.lds_subsets
        if not m:  # a family without LDS (the ViTs)
            return None, None
        if not lds_available(experiment, m, seeds):
            log.info("LDS left out of %s's methods table: no current subset models (add them with: %s)",
                     experiment.name, lds_command(experiment, m))
            return None, None
        lds_subsets = m
    return load_subset_losses(experiment, check_subsets(lds_subsets), seeds), lds_subsets


def seconds_per_checkpoint(experiment, methods, seeds=None) -> dict[str, float]:
    """Per method, the mean wall seconds its score files took per checkpoint, as recorded when they were made."""
    from .. import provenance
    from ..experiment import load_seeds

    out = {}
    for method in methods:
        times = [(provenance.read(experiment.scores_path(method, s, e)) or {}).get("made_with", {}).get("seconds")
                 for s in seeds or load_seeds() for e in experiment.checkpoint_epochs]
        times = [t for t in times if t is not None]
        out[method] = sum(times) / len(times) if times else float("nan")
    return out


def run_pvalues(experiment, methods=None, seeds=None, posteriors=None) -> pd.DataFrame:
    """The p-value CSVs of an experiment (posteriors: load_all's result, when the caller has it already)."""
    from ..attribution import default_methods

    methods = methods or default_methods()
    posteriors = posteriors if posteriors is not None else load_all(experiment, methods, seeds)
    table = pvalues_of(posteriors, experiment.results_dir())
    names = ["mean_p_values.csv", "significance.csv"] + [f"pvalues_{m}_across_{k}_ckpts.csv" for m in methods
                                                         for k in range(1, len(experiment.checkpoint_epochs) + 1)]
    _record(experiment, methods, seeds, names)
    return table


def run_correlations(experiment, methods=None, seeds=None, lds_subsets: int | None = None, posteriors=None) -> str:
    """Correlations, noise decomposition, their figures, methods.csv (with LDS: see subset_losses_for) and the
    summary (p-values are reused where current)."""
    from .. import provenance
    from ..attribution import default_methods

    methods = methods or default_methods()
    posteriors = posteriors if posteriors is not None else load_all(experiment, methods, seeds)
    significance_path = experiment.results_dir() / "significance.csv"
    reuse = provenance.is_current(significance_path) and (provenance.read(significance_path) or {}).get(
        "what", {}).get("methods") == list(methods)
    significance = pd.read_csv(significance_path) if reuse else None
    subset_losses, lds_subsets = subset_losses_for(experiment, seeds, lds_subsets)
    summary = correlations_of(posteriors, experiment.results_dir(), experiment.name, significance,
                              subset_losses=subset_losses, seconds=seconds_per_checkpoint(experiment, methods, seeds)).summary
    names = ["summary.md", "noise_decomposition.csv", "methods.csv"] + [f"{kind}_corr_{s}.csv" for kind in ("pearson", "spearman")
                                                         for s in ("mu", "sigma", "snr")]
    _record(experiment, methods, seeds, names, lds_subsets)
    return summary
