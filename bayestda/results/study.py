"""A study's results: every experiment's methods.csv row by row with the settings it varies, in
`results/study_<name>/methods_by_experiment.csv`, and its figures: the paper's view (mean p against K per method,
one panel per experiment) and each metric against each varied setting, per method, with its interval.

Read from the experiments' own results (current only), so the table equals their methods.csv rows; recorded as
made from those files (kind "study_results").
"""

from __future__ import annotations

import json
import logging

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import provenance
from ..analysis.figures import save_figure
from ..analysis.metrics import interval_columns
from ..analysis.replicates import replicate_table
from ..analysis.summary import CONTROLS
from ..core.io import file_hash, save_csv
from ..core.paths import output_root
from ..experiments.experiment import Experiment
from ..experiments.studies import Study, get_study, settings_of
from .records import RESULTS_KIND

log = logging.getLogger(__name__)

TABLE = "methods_by_experiment.csv"
REPLICATES = "replicates.csv"
COLUMNS = ("K", "mean_p", "fraction_p_below_0.05", "significant_after_BH_5%", "fraction_p_below_0.05_same_class",
           "fraction_p_below_0.05_cross_class")
METRICS = {"fraction_p_below_0.05": "fraction of pairs with p < 0.05", "loo_corr_mean": "LOO correlation (mean)",
           "loo_corr_within_class_mean": "LOO correlation within class (mean)", "lds_mean": "LDS (mean)",
           "lds_within_class_mean": "LDS within class (mean)"}


def _style(study: Study, method: str) -> dict:
    """One colour per method in every panel (tab20: the study has more methods than the default cycle's ten
    colours); the controls dashed."""
    pairs = matplotlib.colormaps["tab20"].colors  # ten dark/light pairs: the dark ones first, then the light
    palette = pairs[0::2] + pairs[1::2]
    index = study.methods.index(method) if method in study.methods else len(study.methods)
    return {"color": palette[index % len(palette)],
            "linestyle": "--" if method in CONTROLS else "-"}


def study_dir(study: Study):
    return output_root() / "results" / f"study_{study.name}"


def _analysis_dir(experiment: Experiment, study: Study, seeds=None):
    """Where the study's analysis of an experiment is: the folder of the study's methods (and seeds)."""
    return experiment.analysis_dir(study.methods, seeds)


def _methods_csv(experiment: Experiment, study: Study, seeds=None):
    return _analysis_dir(experiment, study, seeds) / "methods.csv"


def _current(methods_csv) -> bool:
    """An experiment's methods.csv is current: recorded as the analysis' results (RESULTS_KIND) from today's
    score files."""
    record = provenance.read(methods_csv)
    return record is not None and record["what"].get("kind") == RESULTS_KIND.name and provenance.is_current(methods_csv)


def finished(study: Study, seeds=None) -> list[Experiment]:
    """The study's experiments whose methods.csv (of the study's methods and these seeds) is current."""
    return [e for e in study.parsed() if _current(_methods_csv(e, study, seeds))]


def study_inputs(study: Study, experiments: list[str], seeds=None) -> dict:
    paths = {name: _methods_csv(Experiment.parse(name), study, seeds) for name in experiments}
    return {name: file_hash(path) if _current(path) else None for name, path in paths.items()}


STUDY_RESULTS_KIND = provenance.declare(provenance.Kind("study_results", lambda w: study_inputs(
    get_study(w["study"]), w["experiments"], w.get("seeds"))))


def collect(study: Study, experiments: list[Experiment], seeds=None) -> pd.DataFrame:
    """Every finished experiment's methods.csv rows of the study's methods, with the experiment, its provenance
    hash and its settings."""
    frames = []
    for experiment in experiments:
        table = pd.read_csv(_methods_csv(experiment, study, seeds))
        table = table[table["method"].isin(study.methods)].reset_index(drop=True)
        front = {"experiment": experiment.name, **settings_of(experiment),
                 "methods_csv_sha256": file_hash(_methods_csv(experiment, study, seeds))}
        for i, (column, value) in enumerate(front.items()):
            table.insert(i, column, value)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def paper_view(study: Study, experiments: list[Experiment], path, seeds=None) -> None:
    """Mean p-value (the paper's z-test) against K per method, one panel per experiment (the paper's figure)."""
    fig = Figure(figsize=(3.2 * len(experiments), 3.2), layout="constrained")
    axes = fig.subplots(1, len(experiments), squeeze=False)[0]
    for ax, experiment in zip(axes, experiments):
        mean_p = pd.read_csv(_analysis_dir(experiment, study, seeds) / "mean_p_values.csv", index_col="K")
        for method in (m for m in mean_p.columns if m in study.methods):  # an experiment may have run more
            ax.plot(mean_p.index, mean_p[method], marker="o", markersize=3, label=method, **_style(study, method))
        ax.set_title(experiment.name, fontsize=8)
        ax.set_xlabel("K (last checkpoints per seed)")
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("mean p (z-test)")
    axes[-1].legend(fontsize=6, loc="upper right")
    fig.suptitle(f"study {study.name}: mean p-value against K")
    save_figure(fig, path)


def _reference(study: Study, table: pd.DataFrame) -> dict:
    """The varied settings of the study's first experiment: each panel varies one setting, the others held here."""
    first = table[table["experiment"] == study.experiments[0]]
    source = first if len(first) else table
    return {s: source[s].iloc[0] for s in study.varied}


def metric_view(study: Study, table: pd.DataFrame, path) -> None:
    """Each metric (rows) against each varied setting (columns), per method, with the 95% interval where it has
    one; in a column, the experiments that differ from the first experiment in that setting only."""
    metrics = {c: label for c, label in METRICS.items() if c in table.columns}
    reference = _reference(study, table)
    fig = Figure(figsize=(3.4 * len(study.varied), 2.6 * len(metrics)), layout="constrained")
    axes = fig.subplots(len(metrics), len(study.varied), squeeze=False)
    for col, setting in enumerate(study.varied):
        others = [s for s in study.varied if s != setting]
        rows = table[(table[others] == pd.Series({s: reference[s] for s in others})).all(axis=1)] if others else table
        for row, (metric, label) in enumerate(metrics.items()):
            ax = axes[row][col]
            for method, group in rows.groupby("method", sort=False):
                group = group.sort_values(setting)
                line = ax.plot(group[setting], group[metric], marker="o", markersize=3, label=method,
                               **_style(study, method))[0]
                columns = interval_columns(group, metric)
                if columns is not None:
                    ax.fill_between(group[setting], group[columns[0]], group[columns[1]], alpha=0.12,
                                    color=line.get_color())
            if setting in ("weight_decay",):
                ax.set_xscale("symlog", linthresh=1e-3)
            values = sorted(rows[setting].unique())  # ticks at the settings run, not 2.2, 2.4, ... between them
            ax.set_xticks(values, labels=[f"{v:g}" if isinstance(v, int | float) else str(v) for v in values])
            if any(isinstance(v, str) for v in values):
                ax.tick_params(axis="x", labelrotation=30, labelsize=6)
            ax.set_xlabel(setting)
            ax.set_ylabel(label, fontsize=7)
    fig.legend(*axes[0][-1].get_legend_handles_labels(), fontsize=7, loc="outside right center")  # off the lines
    fig.suptitle(f"study {study.name}: each metric against each varied setting")
    save_figure(fig, path)


SAMPLES = "samples.csv"


def sample_spread(experiment: Experiment, seeds=None) -> dict:
    """How spread an experiment's posterior samples are, from its metrics.json files: each sample's test accuracy
    and loss (the paper's checkpoints under a view, arranged as the view arranges them), and for a drawing sampler
    the distance from the trained weights and its seconds per seed."""
    seeds = list(seeds or experiment.posterior_seeds)
    owner = experiment if experiment.draws_samples else experiment.base
    metrics = [json.loads(owner.metrics_path(seed).read_text()) for seed in seeds]
    def per_sample(key: str) -> np.ndarray:  # noqa: E306 ([seeds, checkpoints, 1, 1], as scores are arranged)
        values = np.array([[m["checkpoints"][str(e)].get(key, np.nan) for e in owner.checkpoint_epochs] for m in metrics])
        return experiment.posterior_sampler.arranged(values[:, :, None, None], seeds, owner.checkpoint_epochs)[0].ravel()
    accuracy, loss = per_sample("test_accuracy"), per_sample("test_loss")
    row = {"experiment": experiment.name, "sampler": experiment.sampler, "samples": len(accuracy),
           "test_accuracy_mean": accuracy.mean(), "test_accuracy_min": accuracy.min(),
           "test_accuracy_max": accuracy.max(), "test_loss_mean": loss.mean(), "test_loss_max": loss.max()}
    if experiment.draws_samples:
        row["distance_from_trained_mean"] = float(np.nanmean(per_sample("distance_from_trained")))
        row["sampling_seconds_per_seed"] = float(np.mean([m["sampling_seconds"] for m in metrics]))
    return row


def write_study(study: Study, seeds=None) -> pd.DataFrame | None:
    """The study's table and figures from its finished experiments (None, logged, when none has finished); `seeds`:
    the seeds its analyses used, where not all 10."""
    experiments = finished(study, seeds)
    absent = [name for name in study.experiments if name not in {e.name for e in experiments}]
    if absent:
        log.info("study %s: not finished yet (left out): %s", study.name, ", ".join(absent))
    if not experiments:
        return None
    table = collect(study, experiments, seeds)
    folder = study_dir(study)
    save_csv(table, folder / TABLE)
    names = [TABLE, "mean_p_by_k.png", "mean_p_by_k.pdf", "metrics_by_setting.png", "metrics_by_setting.pdf"]
    if "subset_seed" in study.varied:  # replicates: each value over the draws of the training images
        save_csv(replicate_table(table, tuple(s for s in study.varied if s != "subset_seed")), folder / REPLICATES)
        names.append(REPLICATES)
    if "sampler" in study.varied:  # the posterior's spread beside each sampler's verdicts
        save_csv(pd.DataFrame([sample_spread(e, seeds) for e in experiments]), folder / SAMPLES)
        names.append(SAMPLES)
    paper_view(study, experiments, folder / "mean_p_by_k", seeds)
    metric_view(study, table, folder / "metrics_by_setting")
    what = {"kind": "study_results", "study": study.name, "experiments": [e.name for e in experiments]}
    if seeds is not None:
        what["seeds"] = list(seeds)
    inputs = study_inputs(study, what["experiments"], seeds)
    for name in names:
        provenance.write(folder / name, what, inputs)
    return table


__all__ = ["collect", "finished", "get_study", "study_dir", "write_study"]
