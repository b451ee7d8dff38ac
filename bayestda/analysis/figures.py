"""Figures: annotated correlation heatmaps (seaborn, as the paper) and the noise decomposition (PNG and PDF).

Figures are drawn on matplotlib `Figure` objects, never through pyplot's global state: importing or running
the analysis leaves the caller's matplotlib backend alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..core.io import atomic_write
from .correlations import STATISTICS
from .metrics import bounds


def save_figure(fig: Figure, path: Path) -> list[Path]:
    """PNG and PDF beside each other, each written atomically."""
    out = []
    for suffix in (".png", ".pdf"):
        target = path.with_suffix(suffix)
        atomic_write(target, lambda tmp, kind=suffix[1:]: fig.savefig(tmp, format=kind, dpi=150, bbox_inches="tight"))
        out.append(target)
    return out


def correlation_heatmaps(correlations: dict[str, pd.DataFrame], kind: str, title: str, path: Path) -> list[Path]:
    """One row of annotated heatmaps, one per statistic (μ, σ, μ/σ), for Pearson or Spearman; both axes labelled."""
    size = len(correlations[f"{kind}_corr_mu"])
    fig = Figure(figsize=(len(STATISTICS) * (2.2 + 0.55 * size), 1.6 + 0.55 * size), layout="constrained")
    axes = fig.subplots(1, len(STATISTICS))
    for ax, (statistic, label) in zip(axes, STATISTICS.items()):
        sns.heatmap(correlations[f"{kind}_corr_{statistic}"], ax=ax, vmin=-1, vmax=1, cmap="RdBu_r", annot=True,
                    fmt=".2f", annot_kws={"fontsize": 7}, square=True, cbar=ax is axes[-1])
        ax.set_title(f"{kind.capitalize()} of {label}")
        ax.set_xlabel("method")
        ax.set_ylabel("method")
    fig.suptitle(title)
    return save_figure(fig, path)


def noise_figure(noise: pd.DataFrame, title: str, path: Path) -> list[Path]:
    fig = Figure(figsize=(1.0 + 0.8 * len(noise), 3.6), layout="constrained")
    ax = fig.subplots()
    ax.bar(noise["method"], noise["between_seed_fraction"], label="between seeds (initialisation + batch order)")
    ax.bar(noise["method"], noise["within_run_fraction"], bottom=noise["between_seed_fraction"],
           label="within a run (its checkpoints)")
    ax.set_ylabel("fraction of score variance")
    ax.set_ylim(0, 1)
    ax.tick_params(axis="x", rotation=45)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title)
    return save_figure(fig, path)


def damping_figure(table: pd.DataFrame, metrics: dict[str, str], defaults: dict[str, float], title: str,
                   path: Path) -> list[Path]:
    """One panel per metric: its posterior-mean value (95% interval shaded) against the damping λ (log axis), a
    line per method, each method's default λ marked (an undamped default, 0, is drawn as a dashed level)."""
    present = {c: label for c, label in metrics.items() if c in table.columns}
    fig = Figure(figsize=(3.6 * len(present), 3.4), layout="constrained")
    axes = fig.subplots(1, len(present), squeeze=False)[0]
    for ax, (column, label) in zip(axes, present.items()):
        for method, rows in table.groupby("method", sort=False):
            curve = rows[rows["damping"] > 0].sort_values("damping")
            line = ax.plot(curve["damping"], curve[column], marker="o", markersize=3, label=method)[0]
            low, high = bounds(column)
            ax.fill_between(curve["damping"], curve[low], curve[high], alpha=0.15, color=line.get_color())
            default = rows[rows["damping"] == defaults.get(method)]
            if defaults.get(method) == 0 and len(default):
                ax.axhline(default[column].iloc[0], linestyle="--", linewidth=0.8, color=line.get_color())
            elif len(default):
                ax.plot(default["damping"], default[column], marker="*", markersize=11, color=line.get_color())
        ax.set_xscale("log")
        ax.set_xlabel("damping λ")
        ax.set_title(label, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)


def advice_figure(advice: pd.DataFrame, title: str, path: Path) -> list[Path]:
    """Per test (a panel each): per method, the sign agreement with the LOO truth of its passing and its failing
    pairs (bars), the difference's interval as an error bar on the passing bar."""
    tests = list(dict.fromkeys(advice["test"]))
    methods = list(dict.fromkeys(advice["method"]))
    fig = Figure(figsize=(max(6.0, 0.55 * len(methods)) * 1.0, 2.6 * len(tests)), layout="constrained")
    axes = fig.subplots(len(tests), 1, squeeze=False)[:, 0]
    x = np.arange(len(methods))
    for ax, test in zip(axes, tests):
        rows = advice[advice["test"] == test].set_index("method").reindex(methods)
        ax.bar(x - 0.2, rows["sign_agreement_passing"], 0.4, label="pairs passing (p < 0.05)")
        ax.bar(x + 0.2, rows["sign_agreement_failing"], 0.4, label="pairs failing")
        ax.axhline(0.5, color="grey", linewidth=0.6, linestyle=":")
        ax.set_xticks(x, methods, rotation=45, fontsize=7)
        ax.set_ylim(0, 1)
        ax.set_ylabel("sign agreement\nwith the LOO truth", fontsize=8)
        ax.set_title(test, fontsize=9)
    axes[0].legend(fontsize=7, loc="upper right")
    fig.suptitle(title)
    return save_figure(fig, path)


def cost_figure(methods: pd.DataFrame, title: str, path: Path, column: str = "lds_within_class_mean") -> list[Path]:
    """Within-class LDS (posterior mean, with its interval) against seconds per checkpoint (log), marker area the
    sign-reliable fraction (the lead test's), a line at the truth's ceiling."""
    rows = methods.dropna(subset=[column, "seconds_per_checkpoint"])
    rows = rows[rows["seconds_per_checkpoint"] > 0]
    fig = Figure(figsize=(6.0, 4.2), layout="constrained")
    ax = fig.subplots()
    size = 20 + 300 * rows["fraction_p_below_0.05"].fillna(0)
    ax.scatter(rows["seconds_per_checkpoint"], rows[column], s=size, alpha=0.6)
    low, high = bounds(column)
    if low in rows.columns:
        ax.errorbar(rows["seconds_per_checkpoint"], rows[column], yerr=[rows[column] - rows[low], rows[high] - rows[column]],
                    fmt="none", ecolor="grey", elinewidth=0.8)
    for method, row in rows.iterrows():
        ax.annotate(method, (row["seconds_per_checkpoint"], row[column]), fontsize=7, xytext=(4, 3),
                    textcoords="offset points")
    ceiling = column.removesuffix("_mean") + "_ceiling"
    if ceiling in methods.columns and np.isfinite(methods[ceiling].iloc[0]):
        ax.axhline(methods[ceiling].iloc[0], color="black", linestyle="--", linewidth=0.8, label="the truth's ceiling")
        ax.legend(fontsize=7, loc="lower right")
    ax.set_xscale("log")
    ax.set_xlabel("seconds per checkpoint (log)")
    ax.set_ylabel(column.replace("_", " "))
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)
