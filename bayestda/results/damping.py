"""The damping curve: how the influence methods that invert a damped curvature (if_converged, ekfac, arnoldi; the
registry's methods with a `damped` form) score on LOO correlation and LDS, standard and within-class, as the
damping λ runs from 1e-6 to 1.

Per seed and checkpoint one file `results/<exp>/damping/<seed>_<epoch>.pt` holds every method's scores at every λ
(the expensive part, the curvature, is computed once per checkpoint: Gauss-Newton rows, EK-FAC factors, Arnoldi
eigenpairs), written atomically with a provenance record; a current file is skipped. The curve is then computed
like methods.csv's columns (the same truth, LDS targets, classes and bootstrap) into `damping.csv`, `damping.png`
and `damping.md`. The defaults stay the paper's; choosing λ on this ground truth is optimistic (as dattri's
benchmark does), so the best λ is reported beside the default, not used.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from .. import provenance
from ..analysis import LOO_TRUTH, PosteriorScores
from ..analysis.comparisons import compare, with_holm
from ..analysis.figures import damping_figure
from ..analysis.metrics import TruthTargets, bounds, lds_resampled, loo_resampled
from ..analysis.resampling import draw
from ..analysis.summary import listing
from ..attribution.context import CheckpointContext
from ..attribution.registry import get, helpful_signs
from ..core.io import file_hash, save_csv, save_text
from ..core.parallel import default_workers, process_map
from ..core.seeds import load_seeds
from ..core.tensor_io import save_torch
from ..experiments.experiment import Experiment
from ..scores.pipeline import make_context
from ..training.checkpoints import training_inputs
from .analysis import experiment_classes, lds_losses_for, load_all

log = logging.getLogger(__name__)

DAMPING_VERSION = "1"
DAMPINGS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # 7 log-spaced values; each method's default is added
DAMPED_METHODS = ("if_converged", "ekfac", "arnoldi")
METRICS = {"loo_corr_mean": "LOO correlation (Spearman, mean)",
           "loo_corr_within_class_mean": "LOO correlation within class (mean)",
           "lds_mean": "LDS (mean)", "lds_within_class_mean": "LDS within class (mean)"}


def default_damping(method: str) -> float:
    """The method's own damping: if_converged's and ekfac's λ = 5e-3 (the weight decay), arnoldi's 0."""
    return float(get(method).settings.get("damping", 0.0))


def dampings_of(method: str, dampings=DAMPINGS) -> list[float]:
    return sorted({*map(float, dampings), default_damping(method)})


def default_curve_epochs(experiment: Experiment) -> list[int]:
    """The checkpoints the curve scores by default: each seed's last."""
    return experiment.checkpoint_epochs[-1:]


def curve_path(experiment: Experiment, seed: int, epoch: int):
    return experiment.results_dir() / "damping" / f"{seed}_{epoch}.pt"


def curve_inputs(experiment: Experiment, seed: int, epoch: int, methods, dampings) -> dict:
    return {**training_inputs(experiment, seed), "checkpoint": file_hash(experiment.checkpoint_path(seed, epoch)),
            "methods": {m: {"settings": get(m).settings, "version": get(m).version, "dampings": dampings_of(m, dampings)}
                        for m in methods},
            "damping_version": DAMPING_VERSION}


DAMPING_SCORES_KIND = provenance.declare(provenance.Kind(
    "damping_scores", lambda w: curve_inputs(Experiment.from_record(w), w["seed"], w["epoch"], w["methods"],
                                             w["dampings"]),
    lambda w: curve_path(Experiment.from_record(w), w["seed"], w["epoch"])))


def curve_results_inputs(experiment: Experiment, seeds, epochs) -> dict:
    """What damping.csv, .png and .md are made from: every curve file read (by hash; None where not current)."""
    return {f"{s}/{e}": file_hash(curve_path(experiment, s, e)) if provenance.is_current(curve_path(experiment, s, e))
            else None for s in seeds for e in epochs}


DAMPING_RESULTS_KIND = provenance.declare(provenance.Kind(
    "damping_results", lambda w: curve_results_inputs(Experiment.from_record(w), w["seeds"], w["epochs"])))


def score_checkpoint(experiment: Experiment, seed: int, epoch: int, methods=DAMPED_METHODS, dampings=DAMPINGS,
                     device: str = "cpu", ctx: CheckpointContext | None = None) -> None:
    """Every method's scores at every damping for one checkpoint (skipped when current). `ctx`: the checkpoint's
    context where the scores stage has one open (its curvatures, factors and eigenpairs are reused: the same
    numbers, bitwise, without recomputing them)."""
    path = curve_path(experiment, seed, epoch)
    if provenance.is_current(path):
        return
    ctx = ctx or make_context(experiment, seed, epoch, device=device)
    blob = {m: {d: get(m).damped(ctx, d).float().cpu() for d in dampings_of(m, dampings)} for m in methods}
    save_torch(blob, path)
    provenance.write(path, experiment.record_what("damping_scores", seed=seed, epoch=epoch, methods=list(methods),
                                                  dampings=list(dampings)),
                     curve_inputs(experiment, seed, epoch, methods, dampings))


def _job(job) -> int:
    experiment, seed, epoch, methods, dampings, device = job
    score_checkpoint(experiment, seed, epoch, methods, dampings, device)
    return seed


def curve_table(experiment: Experiment, epochs: list[int], methods=DAMPED_METHODS, dampings=DAMPINGS,
                seeds=None, truth_method: str = LOO_TRUTH, resampled: dict | None = None) -> pd.DataFrame:
    """Per method and damping: the metrics of methods.csv (posterior mean with its interval; single-sample values)
    over the given checkpoints of every seed (K = len(epochs)), against `truth_method`'s posterior mean; where
    `resampled` is a dict, it receives each (method, damping, metric column)'s resampled means (paired draws)."""
    seeds = seeds or load_seeds()
    blobs = {(s, e): torch.load(curve_path(experiment, s, e)) for s in seeds for e in epochs}
    truth = load_all(experiment, [truth_method], seeds)[truth_method]
    targets = lds_losses_for(experiment, seeds)
    classes = experiment_classes(experiment)
    signs = helpful_signs()
    draws = draw(len(seeds), len(truth.test_idx))
    truths = {"loo_corr": TruthTargets.of(truth, draws, signs.get(truth_method, 1)),
              "loo_corr_within_class": TruthTargets.of(truth, draws, signs.get(truth_method, 1), classes=classes)}
    rows = []
    for method in methods:
        for damping in dampings_of(method, dampings):
            values = np.stack([np.stack([blobs[s, e][method][damping].double().numpy() for e in epochs]) for s in seeds])
            scores = PosteriorScores(method, values, seeds, epochs, truth.train_idx, truth.test_idx)
            row = {"method": method, "damping": damping, "default": damping == default_damping(method), "K": len(epochs)}
            columns = {name: loo_resampled(scores, prepared, len(epochs), draws, signs[method])
                       for name, prepared in truths.items()}
            if targets.random is not None:
                columns["lds"] = lds_resampled(scores, targets.random, len(epochs), draws, signs[method])
            if targets.stratified is not None:
                columns["lds_within_class"] = lds_resampled(scores, targets.stratified, len(epochs), draws,
                                                            signs[method])
            for name, value in columns.items():
                row[f"{name}_single"], row[f"{name}_mean"] = value.single, value.mean
                low, high = bounds(f"{name}_mean")
                row[low], row[high] = value.interval("mean")
                if resampled is not None:
                    resampled[(method, damping, f"{name}_mean")] = value.mean_draws
            if targets.random is not None:
                row["lds_target"] = targets.random.target
            rows.append(row)
    return pd.DataFrame(rows)


def best_dampings(table: pd.DataFrame, resampled: dict | None = None) -> list[str]:
    """Per method and metric: the best λ beside the default, and whether they differ: the paired difference on the
    same resamples, Holm-corrected over every (method, metric) comparison, where `resampled` (curve_table's) is
    given; else whether their intervals separate."""
    choices = []
    for method, rows in table.groupby("method", sort=False):
        default = rows[rows["default"]].iloc[0]
        for column in (c for c in METRICS if c in rows.columns):
            choices.append((method, column, default, rows.loc[rows[column].idxmax()]))
    verdicts = {}
    if resampled is not None:
        pairs = [(m, c, b, d) for m, c, d, b in choices if b["damping"] != d["damping"]]
        found = with_holm([row for m, c, b, d in pairs for row in compare(
            {"best": b[c], "default": d[c]}, {"best": resampled[(m, b["damping"], c)],
                                               "default": resampled[(m, d["damping"], c)]}, c, [("best", "default")])])
        for (m, c, _, _), (_, row) in zip(pairs, found.iterrows()):
            verdicts[(m, c)] = (f" (paired difference {row['difference']:+.2f} [{row['difference_cond_lo']:+.2f}, "
                                f"{row['difference_cond_hi']:+.2f}], Holm over {len(found)}: "
                                f"{'separated' if row['separated'] else 'not separated'})")
    lines = []
    for method in dict.fromkeys(m for m, _, _, _ in choices):
        parts = []
        for _, column, default, best in (c for c in choices if c[0] == method):
            low, high = bounds(column)
            verdict = verdicts.get((method, column)) or (
                " (the default is best)" if best["damping"] == default["damping"] else
                " (intervals separate)" if best[low] > default[high] else " (intervals overlap)")
            parts.append(f"{METRICS[column]} {best[column]:.2f} at λ = {best['damping']:g} vs {default[column]:.2f} "
                         f"at the default{verdict}")
        lines.append(f"- {method} (default λ = {default['damping']:g}): " + "; ".join(parts) + ".")
    return lines


def run_damping_curve(experiment: Experiment, epochs: list[int] | None = None, methods=DAMPED_METHODS,
                      dampings=DAMPINGS, device: str = "cpu", jobs: int | None = None, seeds=None,
                      truth_method: str = LOO_TRUTH) -> pd.DataFrame:
    """Score every seed's checkpoints at every damping (resumable), then write damping.csv, .png and .md."""
    epochs = epochs or default_curve_epochs(experiment)
    seeds = seeds or load_seeds()
    jobs = jobs or default_workers(device)
    work = [(experiment, s, e, tuple(methods), tuple(dampings), device) for s in seeds for e in epochs
            if not provenance.is_current(curve_path(experiment, s, e))]
    process_map(_job, work, jobs, f"{experiment.name} damping curve", unit="checkpoint")
    resampled: dict = {}
    table = curve_table(experiment, epochs, methods, dampings, seeds, truth_method, resampled)
    folder = experiment.results_dir()
    save_csv(table, folder / "damping.csv")
    checkpoints = f"checkpoint{'s' if len(epochs) > 1 else ''} {listing([str(e) for e in epochs])}"
    damping_figure(table, METRICS, {m: default_damping(m) for m in methods},
                   f"{experiment.name}: the damping curve ({checkpoints}, {len(seeds)} seeds)", folder / "damping")
    text = "\n\n".join([
        f"# {experiment.name}: the damping curve",
        f"{listing(list(methods))} at λ in {', '.join(f'{d:g}' for d in dampings)} and each default, scored at "
        f"{checkpoints} of {len(seeds)} seeds (K = {len(epochs)}); LOO truth: "
        f"{truth_method}; metrics as in "
        "methods.csv (posterior mean, 95% hierarchical bootstrap interval over seeds and test items, conditional on "
        "the training subset). arnoldi's damping δ moves each kept "
        "eigenvalue away from zero (1/(λ_k + sign(λ_k) δ)); its default is undamped (δ = 0).",
        "Best λ per metric beside the default. Choosing λ on the ground truth it is judged by is optimistic (as "
        "dattri's benchmark does); the defaults stay the paper's:",
        "\n".join(best_dampings(table, resampled)),
        "![damping](damping.png)"]) + "\n"
    save_text(text, folder / "damping.md")
    what = experiment.record_what("damping_results", seeds=list(seeds), epochs=list(epochs))
    inputs = curve_results_inputs(experiment, seeds, epochs)
    for name in ("damping.csv", "damping.md", "damping.png", "damping.pdf"):
        provenance.write(folder / name, what, inputs)
    return table
