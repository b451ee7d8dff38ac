"""summary.md: the tables, the figures, and one sentence per paper claim from the numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .pvalues import T_TEST, Z_TEST, lead_rows, lead_test, mean_pvalues

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


def listing(names) -> str:
    """Names as prose: "gd", "gd and if", "gd, if and gc"."""
    names = [f"{n}" for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else ""


def _which(chosen: list[str], of: list[str]) -> str:
    """Which of the methods `of` are `chosen`, as prose that reads for one method as for twelve."""
    if not chosen:
        return "none of them" if len(of) > 1 else "none"
    if len(chosen) == len(of):
        return listing(of) if len(of) <= 2 else f"all {len(of)}"
    return f"{len(chosen)} of {len(of)} ({listing(chosen)})"


def _test_name(test: str) -> str:
    return "the paper's z-test" if test == Z_TEST else "the t-test"


def claims(significance: pd.DataFrame, correlations: dict[str, pd.DataFrame], noise: pd.DataFrame) -> list[str]:
    """One sentence per claim of the paper (docs/protocol.md), each saying whether these scores support it.

    Claims 1, 2 and 4 are read on the paper's five methods where present (else on every method), at each
    method's largest K, with the lead test (the z-test with 10 or more seeds, else the t-test); claim 3 needs
    LOO or ATS and two estimators.
    """
    test = lead_test(significance)
    rows = lead_rows(significance, test)
    paper = rows[rows["K"] == rows.groupby("method")["K"].transform("max")].set_index("method")
    methods = [m for m in PAPER_METHODS if m in paper.index] or list(paper.index)
    frac = paper.loc[methods, "fraction_p_below_0.05"]
    mean_p = paper.loc[methods, "mean_p"]
    sentences = []
    ok = bool((frac < 0.5).all())
    sentences.append(
        f"1. Most pairs are not significantly non-zero: {'supported' if ok else 'not supported'}. With every checkpoint "
        f"averaged, the fraction of pairs with p < 0.05 under {_test_name(test)} is "
        f"{', '.join(f'{m} {frac[m]:.1%}' for m in methods)}; mean p-values {', '.join(f'{m} {mean_p[m]:.2f}' for m in methods)}.")
    bh = paper.loc[methods, "significant_after_BH_5%"]
    exist = [m for m in methods if frac[m] > 0]
    under_half = [m for m in methods if frac[m] < 0.5]
    rare_but_exist = bool(((frac > 0) & (frac < 0.5)).all())
    sentences.append(
        f"2. Noise-independent pairs are rare but exist: {'supported' if rare_but_exist else 'not supported'}. Pairs "
        f"with p < 0.05 exist for {_which(exist, methods)} and make up under half of all pairs for "
        f"{_which(under_half, methods)}; after Benjamini-Hochberg at 5%, "
        f"{', '.join(f'{m} {int(bh[m])}' for m in methods)} of {int(paper['pairs'].iloc[0])} pairs remain.")
    truth_present = [m for m in GROUND_TRUTH if m in correlations["spearman_corr_mu"].index]
    estimators_present = [m for m in ESTIMATORS if m in correlations["spearman_corr_mu"].index]
    values = {}
    for statistic in ("mu", "sigma"):
        matrix = correlations[f"spearman_corr_{statistic}"]
        values[statistic] = (_mean_abs(matrix, GROUND_TRUTH, ESTIMATORS), _mean_abs(matrix, ESTIMATORS, ESTIMATORS))
    claim = ("3. Ground truth (LOO, ATS) and estimators (IF, GD, GC) disagree while the estimators agree with each "
             "other: ")
    if not truth_present or len(estimators_present) < 2 or np.isnan([*values["mu"], *values["sigma"]]).any():
        here = listing(truth_present + estimators_present) or "none of them"
        sentences.append(claim + f"not assessed: it needs loo or ats and two of if, gd and gc among the methods "
                                 f"(here: {here}).")
    else:
        (mu_across, mu_among), (sigma_across, sigma_among) = values["mu"], values["sigma"]
        ok = mu_across < mu_among and sigma_across < sigma_among
        sentences.append(claim + f"{'supported' if ok else 'not supported'}. Mean |Spearman| of μ between the groups "
                                 f"{mu_across:.2f} vs {mu_among:.2f} among estimators; of σ {sigma_across:.2f} vs "
                                 f"{sigma_among:.2f}.")
    rows = noise.set_index("method").loc[[m for m in methods if m in set(noise["method"])]]
    shares = rows["between_seed_fraction"].dropna()
    claim = "4. Initialisation (seed) is a larger noise source than batch composition within a run: "
    if shares.empty:
        sentences.append(claim + "not assessed: every method has one score per seed, so nothing varies within a run.")
    else:
        dominated = int((shares > 0.5).sum())
        sentences.append(claim + f"{'supported' if dominated > len(shares) / 2 else 'not supported'}. The between-seed "
                                 f"share of score variance is {', '.join(f'{m} {v:.0%}' for m, v in shares.items())}.")
    return sentences


def _signs(signs: dict[str, int], truth: str | None, notes: tuple[str, ...]) -> str:
    """The helpful signs and the LOO truth the analysis used, and where a name could have meant another."""
    positive = listing([m for m, s in signs.items() if s > 0]) or "none"
    negative = listing([m for m, s in signs.items() if s < 0]) or "none"
    text = (f"Helpful signs used: positive = helpful for {positive}; negative = helpful for {negative} (the tests and "
            f"correlations between methods use raw scores; LOO correlation and LDS apply the signs). LOO ground truth: "
            + (f"the posterior mean of `{truth}`." if truth else "none (no LOO correlation columns)."))
    named = [m for m in PAPER_METHODS if m in signs]
    if named:
        text += (f" The claims read {listing(named)} in the paper's roles by their names (ground truth: loo, ats; "
                 "estimators: if, gd, gc).")
    return text + "".join(f"\n\nNote: {note}." for note in notes)


def _test_note(n_seeds: int, test: str) -> str:
    if test == Z_TEST:
        return ""
    return (f" With {n_seeds} seeds the paper's z-test (a normal approximation of μ/σ) is anti-conservative: its "
            "p-values are too small, so the claims and methods.csv lead with the one-sample t-test with "
            f"{n_seeds - 1} dof; the z-test's numbers are beside it.")


CONTROLS = ("random", "same_class")
# (methods.csv column, what it is, whether the LOO ground truth's own retraining is excluded from its ranking)
RANKED_METRICS = (("loo_corr_mean", "LOO correlation (Spearman, posterior mean)", True),
                  ("loo_corr_within_class_mean", "within-class LOO correlation (posterior mean)", True),
                  ("lds_mean", "LDS (posterior mean)", False),
                  ("lds_within_class_mean", "within-class LDS (posterior mean)", False))
INTERVAL_COLUMNS = (("loo_corr", "LOO"), ("loo_corr_within_class", "LOO within class"), ("lds", "LDS"),
                    ("lds_within_class", "LDS within class"))


def _with_interval(methods: pd.DataFrame, method: str, column: str) -> str:
    value, low, high = (methods.loc[method, c] for c in (column, f"{column}_lo", f"{column}_hi"))
    return "-" if np.isnan(value) else f"{value:.2f} [{low:.2f}, {high:.2f}]"


def compact_table(methods: pd.DataFrame) -> pd.DataFrame:
    """summary.md's view of methods.csv: the lead test's fractions (same-class, cross-class) and each metric's
    posterior-mean value with its 95% interval."""
    view = pd.DataFrame(index=methods.index)
    view["K"] = methods["K"]
    view["p < 0.05"] = methods["fraction_p_below_0.05"].map(lambda v: f"{v:.0%}")
    if "fraction_p_below_0.05_same_class" in methods.columns:
        view["same / cross class"] = [f"{a:.0%} / {b:.0%}" for a, b in zip(
            methods["fraction_p_below_0.05_same_class"], methods["fraction_p_below_0.05_cross_class"])]
    for column, title in INTERVAL_COLUMNS:
        if f"{column}_mean" in methods.columns:
            view[title] = [_with_interval(methods, m, f"{column}_mean") for m in methods.index]
    if "seconds_per_checkpoint" in methods.columns:
        view["s/ckpt"] = methods["seconds_per_checkpoint"]
    return view


def _separated(methods: pd.DataFrame, a: str, b: str, column: str) -> bool:
    """Whether a's interval lies wholly above b's."""
    return methods.loc[a, f"{column}_lo"] > methods.loc[b, f"{column}_hi"]


def ranking_claims(methods: pd.DataFrame, truth: str | None) -> list[str]:
    """Per metric: which methods beat each control (intervals separated) and by how much, and which methods cannot
    be told from the best (intervals overlapping): rankings only where the intervals separate."""
    sentences = []
    for column, title, skip_truth in RANKED_METRICS:
        if column not in methods.columns or f"{column}_lo" not in methods.columns:
            continue
        excluded = {truth, "loo"} if skip_truth else set()
        values = methods[column].dropna()
        ranked = [m for m in values.sort_values(ascending=False).index if m not in excluded and m not in CONTROLS]
        if not ranked or (len(ranked) < 2 and not any(c in values.index for c in CONTROLS)):
            continue
        parts = []
        for control in (c for c in CONTROLS if c in values.index):
            above = [m for m in ranked if _separated(methods, m, control, column)]
            below = [m for m in ranked if _separated(methods, control, m, column)]
            tied = [m for m in ranked if m not in above and m not in below]
            margin = ", ".join(f"{m} +{values[m] - values[control]:.2f}" for m in above)
            above_text = f"{len(above)} of {len(ranked)} ({margin})" if above else _which(above, ranked)
            parts.append(f"against `{control}` ({_with_interval(methods, control, column)}), above it: "
                         f"{above_text}; not separated: {_which(tied, ranked)}; below it: {_which(below, ranked)}")
        best = ranked[0]
        ties = [m for m in ranked[1:] if not _separated(methods, best, m, column)]
        parts.append(f"highest: {best} ({_with_interval(methods, best, column)})"
                     + (f", not separated from {listing(ties)}" if ties else ", separated from every other method"))
        sentences.append(f"- {title}: " + "; ".join(parts) + ".")
    return sentences


def methods_section(methods: pd.DataFrame, truth: str | None) -> str:
    """The per-method view of summary.md (every column is in methods.csv), what its columns mean, and the rankings
    that survive the controls and the intervals."""
    text = _table(compact_table(methods))
    text += ("\n\np < 0.05: the fraction of pairs whose score keeps its sign across the posterior (the lead test); "
             "same / cross class: the same fraction among pairs whose train and test items share a class, and among "
             "the others. Each metric is the posterior mean's value with its 95% bootstrap interval over test items "
             "(methods.csv also has the single-sample values, whose intervals resample seeds too, and Pearson).")
    if "loo_corr_single" in methods.columns:
        text += (f"\n\nLOO correlation: per test item, Spearman (`loo_corr_*`) and Pearson (`loo_pearson_*`, as dattri's "
                 f"loo_corr) over train items between a method's scores (helpful sign applied) and the posterior mean of "
                 f"`{truth}`, averaged over test items; single = one posterior sample (averaged over every seed and "
                 f"checkpoint), mean = the method's posterior mean. (`{truth}`'s own mean is 1 by construction.) "
                 "Within class: over the train items of the test item's class only.")
    if "lds_single" in methods.columns:
        text += ("\n\nLDS (linear datamodeling score): per test item, Spearman over the half subsets of the "
                 "train set between the sum of a method's scores over a subset (helpful sign applied) and minus the "
                 "test loss of the models trained on that subset (mean over the target's models), averaged over test "
                 "items; random halves (LDS) and class-stratified halves (within class: every subset keeps half of each "
                 f"class). Target: {methods['lds_target'].iloc[0]}.")
    if "seconds_per_checkpoint" in methods.columns:
        text += ("\n\nseconds_per_checkpoint: mean wall time of one checkpoint's scores on the machine that made "
                 "them, counting every gradient or retraining the method used even where another method made it "
                 "first (what the method costs on its own).")
    rankings = ranking_claims(methods, truth)
    if rankings:
        text += ("\n\nWhat survives the controls and the intervals (a method is above another only where their "
                 "95% intervals do not overlap; the controls: `random` scores, and `same_class`, 1 where the train "
                 "and test labels match):\n\n" + "\n".join(rankings))
    return text


def _single_sample_note(noise: pd.DataFrame) -> str:
    """Say which methods have one sample per seed (their within-run share is empty, their K is 1)."""
    single = list(noise.loc[noise["within_run_fraction"].isna() & noise["between_seed_variance"].notna(), "method"])
    if not single:
        return ""
    return (f" {', '.join(single)}: one score per seed (the sum of its checkpoints' terms), so its posterior samples "
            "are the seeds: only K = 1 applies (its other K cells are empty) and the noise decomposition does not.")


def write_summary(name: str, significance: pd.DataFrame, correlations: dict[str, pd.DataFrame], noise: pd.DataFrame,
                  n_seeds: int, n_checkpoints: int, methods: pd.DataFrame | None = None, truth: str | None = None,
                  signs: dict[str, int] | None = None, notes: tuple[str, ...] = ()) -> str:
    """summary.md of one analysis, as text (the caller writes it once every number is computed)."""
    test = lead_test(significance)
    signs = signs if signs is not None else dict.fromkeys(noise["method"], 1)
    top = significance[significance["K"] == significance.groupby("method")["K"].transform("max")]
    k_top = top.pivot(index="method", columns="test", values=["fraction_p_below_0.05", "significant_after_BH_5%"])
    k_top.columns = [f"{a} ({b})" for a, b in k_top.columns]
    k_top.index.name = "method"
    noise_table = noise.set_index("method")[["between_seed_fraction", "within_run_fraction"]]
    dof = n_seeds - 1
    lead = ("one-sample t-test with {dof} dof first; the paper's z-test beside it" if test == T_TEST
            else "z-test as in the paper; one-sample t-test with {dof} dof beside it").format(dof=dof)
    mean_p = [f"## Mean p-values ({_test_name(test)}), K = last checkpoints averaged per seed",
              _table(mean_pvalues(significance, test))]
    if test == T_TEST:
        mean_p += ["## Mean p-values (the paper's z-test)", _table(mean_pvalues(significance))]
    text = "\n\n".join([
        f"# {name}: Bayesian analysis of TDA scores",
        f"Generated by `run_correlation_analysis.py` from the scores of {n_seeds} seeds x {n_checkpoints} checkpoints."
        + _test_note(n_seeds, test) + " " + _signs(signs, truth, notes) + _single_sample_note(noise),
        "## The paper's claims, checked on these scores",
        "\n".join(claims(significance, correlations, noise)),
        *([f"## Methods (methods.csv): {_test_name(test)} at the largest K, LOO correlation and LDS",
           methods_section(methods, truth)] if methods is not None else []),
        *mean_p,
        f"## Significance at K = {n_checkpoints} ({lead})",
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
    return text
