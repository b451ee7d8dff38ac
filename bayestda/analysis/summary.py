"""summary.md: the tables, the figures, and one sentence per paper claim from the numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..io import save_text

GROUND_TRUTH = ("loo", "ats")
ESTIMATORS = ("if", "gd", "gc")
PAPER_METHODS = GROUND_TRUTH + ESTIMATORS


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    frame = frame.copy()
    header = "| " + " | ".join([str(frame.index.name or "")] + [str(c) for c in frame.columns]) + " |"
    rule = "| " + " | ".join(["---"] * (len(frame.columns) + 1)) + " |"
    rows = []
    for index, row in frame.iterrows():
        cells = [_cell(v, digits) for v in row]
        rows.append("| " + " | ".join([str(index)] + cells) + " |")
    return "\n".join([header, rule, *rows])


def _cell(value, digits: int) -> str:
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return "-"
        return str(int(value)) if value.is_integer() and abs(value) >= 1 else f"{value:.{digits}g}"
    return str(value)


def _mean_abs(matrix: pd.DataFrame, rows, cols) -> float:
    values = [abs(matrix.loc[r, c]) for r in rows for c in cols if r in matrix.index and c in matrix.columns and r != c]
    return float(np.mean(values)) if values else float("nan")


def claims(significance: pd.DataFrame, correlations: dict[str, pd.DataFrame], noise: pd.DataFrame) -> list[str]:
    """One sentence per claim of the paper (docs/protocol.md), each saying whether these scores support it.

    Claims 1, 2 and 4 are read on the paper's five methods where present (else on every method), at each
    method's largest K; claim 3 needs LOO or ATS and two estimators.
    """
    z = significance[significance["test"] == "z (paper)"]
    paper = z[z["K"] == z.groupby("method")["K"].transform("max")].set_index("method")
    methods = [m for m in PAPER_METHODS if m in paper.index] or list(paper.index)
    frac = paper.loc[methods, "fraction_p_below_0.05"]
    mean_p = paper.loc[methods, "mean_p"]
    sentences = []
    ok = bool((frac < 0.5).all())
    sentences.append(
        f"1. Most pairs are not significantly non-zero: {'supported' if ok else 'not supported'}. With every checkpoint averaged, the "
        f"fraction of pairs with p < 0.05 is {', '.join(f'{m} {frac[m]:.1%}' for m in methods)}; mean p-values "
        f"{', '.join(f'{m} {mean_p[m]:.2f}' for m in methods)}.")
    bh = paper.loc[methods, "significant_after_BH_5%"]
    rare_but_exist = bool(((frac > 0) & (frac < 0.5)).all())
    sentences.append(
        f"2. Noise-independent pairs are rare but exist: {'supported' if rare_but_exist else 'not supported'}. Pairs "
        f"with p < 0.05 exist for {sum(frac > 0)} of {len(methods)} methods and are under half of all pairs for "
        f"{sum(frac < 0.5)}; after Benjamini-Hochberg at 5% "
        f"{', '.join(f'{m} {int(bh[m])}' for m in methods)} of {int(paper['pairs'].iloc[0])} pairs remain.")
    for statistic in ("mu", "sigma"):
        matrix = correlations[f"spearman_corr_{statistic}"]
        across = _mean_abs(matrix, GROUND_TRUTH, ESTIMATORS)
        among = _mean_abs(matrix, ESTIMATORS, ESTIMATORS)
        if statistic == "mu":
            mu_across, mu_among = across, among
        else:
            sigma_across, sigma_among = across, among
    ok = mu_across < mu_among and sigma_across < sigma_among
    verdict = "not assessed (needs LOO or ATS and two estimators)" if np.isnan([mu_across, mu_among]).any() else (
        "supported" if ok else "not supported")
    sentences.append(
        f"3. Ground truth (LOO, ATS) and estimators (IF, GD, GC) disagree while the estimators agree with each other: "
        f"{verdict}. Mean |Spearman| of μ between the groups {mu_across:.2f} vs "
        f"{mu_among:.2f} among estimators; of σ {sigma_across:.2f} vs {sigma_among:.2f}.")
    rows = noise.set_index("method").loc[[m for m in methods if m in set(noise["method"])]]
    dominated = int((rows["between_seed_fraction"] > 0.5).sum())
    sentences.append(
        f"4. Initialisation (seed) is a larger noise source than batch composition within a run: "
        f"{'supported' if dominated > len(rows) / 2 else 'not supported'}. The between-seed share of score variance is "
        f"{', '.join(f'{m} {v:.0%}' for m, v in rows['between_seed_fraction'].items())}.")
    return sentences


def _signs(methods: list[str]) -> str:
    """The sign convention of the methods present (the registry's, where they are registered)."""
    from ..attribution.registry import helpful_signs

    signs = helpful_signs()
    known = [m for m in methods if m in signs]
    if not known:
        return "Signs are as given: the test and the correlations use raw scores."
    positive = ", ".join(m for m in known if signs[m] > 0) or "none"
    negative = ", ".join(m for m in known if signs[m] < 0) or "none"
    return f"Raw signs, as the paper's: positive = helpful for {positive}; negative = helpful for {negative}."


def methods_section(methods: pd.DataFrame, truth: str | None) -> str:
    """The per-method table of summary.md, with what its LOO correlation columns mean."""
    text = _table(methods)
    if "loo_corr_single" in methods.columns:
        text += (f"\n\nLOO correlation: per test item, Spearman over train items between a method's scores (helpful "
                 f"sign applied) and the posterior mean of `{truth}`, averaged over test items; single = one posterior "
                 "sample (averaged over every seed and checkpoint), mean = the method's posterior mean. "
                 f"(`{truth}`'s own mean is 1 by construction.)")
    if "lds_single" in methods.columns:
        text += ("\n\nLDS (linear datamodeling score): per test item, Spearman over the random half subsets of the "
                 "train set between the sum of a method's scores over a subset (helpful sign applied) and minus the "
                 "test loss of the models trained on that subset (mean over the seeds), averaged over test items; "
                 "single and mean as above.")
    if "seconds_per_checkpoint" in methods.columns:
        text += ("\n\nseconds_per_checkpoint: mean wall time of one checkpoint's scores on the machine that made "
                 "them, counting every gradient or retraining the method used even where another method made it "
                 "first (what the method costs on its own).")
    return text


def _single_sample_note(noise: pd.DataFrame) -> str:
    """Say which methods have one sample per seed (their within-run share is empty, their K is 1)."""
    single = list(noise.loc[noise["within_run_fraction"].isna() & noise["between_seed_variance"].notna(), "method"])
    if not single:
        return ""
    return (f" {', '.join(single)}: one score per seed (the sum of its checkpoints' terms), so its posterior samples "
            "are the seeds: only K = 1 applies (its other K cells are empty) and the noise decomposition does not.")


def write_summary(name: str, significance: pd.DataFrame, correlations: dict[str, pd.DataFrame], noise: pd.DataFrame,
                  n_seeds: int, n_checkpoints: int, folder: Path | None = None, methods: pd.DataFrame | None = None,
                  truth: str | None = None) -> str:
    """summary.md of one analysis (written to `folder` when given); returns its text."""
    from .pvalues import mean_pvalues

    top = significance[significance["K"] == significance.groupby("method")["K"].transform("max")]
    k_top = top.pivot(index="method", columns="test", values=["fraction_p_below_0.05", "significant_after_BH_5%"])
    k_top.columns = [f"{a} ({b})" for a, b in k_top.columns]
    k_top.index.name = "method"
    noise_table = noise.set_index("method")[["between_seed_fraction", "within_run_fraction"]]
    dof = n_seeds - 1
    text = "\n\n".join([
        f"# {name}: Bayesian analysis of TDA scores",
        f"Generated by `run_correlation_analysis.py` from the scores of {n_seeds} seeds x {n_checkpoints} checkpoints. "
        + _signs(list(noise["method"])) + _single_sample_note(noise),
        "## The paper's claims, checked on these scores",
        "\n".join(claims(significance, correlations, noise)),
        *(["## Methods (methods.csv): the paper's z-test at the largest K, LOO correlation and LDS",
           methods_section(methods, truth)] if methods is not None else []),
        "## Mean p-values (paper's z-test), K = last checkpoints averaged per seed",
        _table(mean_pvalues(significance)),
        f"## Significance at K = {n_checkpoints} (z-test as in the paper; one-sample t-test with {dof} dof beside it)",
        _table(k_top),
        f"## Spearman correlation between methods of μ (K = {n_checkpoints})",
        _table(correlations["spearman_corr_mu"]),
        f"## Spearman correlation between methods of σ (K = {n_checkpoints})",
        _table(correlations["spearman_corr_sigma"]),
        "## Noise decomposition (share of score variance)",
        _table(noise_table),
        "## Figures\n\n![Spearman](spearman_corr.png)\n\n![Pearson](pearson_corr.png)\n\n![Noise](noise_decomposition.png)",
        "All CSVs (p-value matrices per method and K, `mean_p_values.csv`, `significance.csv`, "
        "`{pearson,spearman}_corr_{mu,sigma,snr}.csv`, `noise_decomposition.csv`, `methods.csv`) are in this folder.",
    ]) + "\n"
    if folder is not None:
        save_text(text, folder / "summary.md")
    return text
