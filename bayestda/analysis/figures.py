"""Figures: annotated correlation heatmaps and the noise decomposition (PNG and PDF)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .correlations import STATISTICS  # noqa: E402


def _save(fig, path: Path) -> list[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for suffix in (".png", ".pdf"):
        target = path.with_suffix(suffix)
        tmp = target.with_name(f".{target.name}.tmp{suffix}")
        fig.savefig(tmp, dpi=150, bbox_inches="tight")
        tmp.replace(target)
        out.append(target)
    plt.close(fig)
    return out


def correlation_heatmaps(correlations: dict[str, pd.DataFrame], kind: str, title: str, path: Path) -> list[Path]:
    """One row of annotated heatmaps, one per statistic (μ, σ, μ/σ), for Pearson or Spearman."""
    fig, axes = plt.subplots(1, len(STATISTICS), figsize=(5.0 * len(STATISTICS) + 1.5, 4.8), sharey=True)
    for ax, (statistic, label) in zip(axes, STATISTICS.items()):
        matrix = correlations[f"{kind}_corr_{statistic}"]
        image = ax.imshow(matrix.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(len(matrix)), matrix.columns, rotation=45, ha="right")
        ax.set_yticks(range(len(matrix)), matrix.index if ax is axes[0] else [])
        for i in range(len(matrix)):
            for j in range(len(matrix)):
                ax.text(j, i, f"{matrix.iat[i, j]:.2f}", ha="center", va="center", fontsize=7)
        ax.set_title(f"{kind.capitalize()} of {label}")
    fig.colorbar(image, ax=axes, shrink=0.8)
    fig.suptitle(title)
    return _save(fig, path)


def noise_figure(noise: pd.DataFrame, title: str, path: Path) -> list[Path]:
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(noise), 3.6))
    ax.bar(noise["method"], noise["between_seed_fraction"], label="between seeds (initialisation + batch order)")
    ax.bar(noise["method"], noise["within_run_fraction"], bottom=noise["between_seed_fraction"],
           label="within a run (last 5 checkpoints)")
    ax.set_ylabel("fraction of score variance")
    ax.set_ylim(0, 1)
    ax.tick_params(axis="x", rotation=45)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title)
    return _save(fig, path)
