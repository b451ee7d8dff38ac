"""methods.csv: per method, every posterior test's rate at its largest K, LOO correlation and LDS with their
hierarchical-bootstrap intervals and ceilings, and the paired comparisons between methods (comparisons.csv).

Every metric of every method is computed on the same draws (resampling.py), so that differences are paired.
Ceilings (ceilings.py) are the truth's own: `<metric>_ceiling` is the same for every method, and
`<metric>_mean_share` is a method's posterior-mean value as a share of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.subset_losses import SubsetLosses
from .ceilings import ceiling_of, lds_reliability, loo_reliability
from .classes import ItemClasses
from .comparisons import compare, with_holm
from .metrics import (
    Resampled,
    TruthTargets,
    bounds,
    lds_resampled,
    loo_resampled,
    pearson_per_column,
    spearman_per_column,
)
from .posterior import PosteriorScores
from .pvalues import at_largest_k, keys_of_tests, lead_rows, lead_test
from .resampling import Draws, draw

CONTROLS = ("random", "same_class")
# (methods.csv column, what it is, whether the LOO ground truth's own retraining is excluded from its ranking)
RANKED_METRICS = (("loo_corr_mean", "LOO correlation (Spearman, posterior mean)", True),
                  ("loo_corr_within_class_mean", "within-class LOO correlation (posterior mean)", True),
                  ("lds_mean", "LDS (posterior mean)", False),
                  ("lds_within_class_mean", "within-class LDS (posterior mean)", False),
                  ("loo_scratch_corr_within_class_mean", "within-class LOO against the from-scratch truth", True))
SPLIT_COLUMNS = ("fraction_p_below_0.05_same_class", "fraction_p_below_0.05_cross_class",
                 "significant_after_BH_5%_same_class", "significant_after_BH_5%_cross_class")


NOT_TESTED = "not applicable (one score per pair)"


@dataclass
class Evaluation:
    """methods.csv as a table, each metric's resampled values per method (for paired comparisons), the ceilings."""

    table: pd.DataFrame
    resampled: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # "<metric>_<kind>" -> method -> [R]
    ceilings: dict[str, float] = field(default_factory=dict)  # metric -> ceiling


def _test_columns(row: dict, significance: pd.DataFrame, method: str, k: int) -> None:
    """Every test's fraction of pairs with p < 0.05 and BH count at K = k, as <column>_<test key>."""
    rows = significance[(significance["method"] == method) & (significance["K"] == k)]
    for key, (_, test) in zip(keys_of_tests(rows), rows.iterrows()):
        row[f"fraction_p_below_0.05_{key}"] = test["fraction_p_below_0.05"]
        row[f"significant_after_BH_5%_{key}"] = int(test["significant_after_BH_5%"])


def _put(evaluation: Evaluation, row: dict, method: str, name: str, value: Resampled) -> None:
    """<name>_single, <name>_mean, their conditional intervals, and the resamples kept for comparisons."""
    for kind in ("single", "mean"):
        column = f"{name}_{kind}"
        row[column] = getattr(value, kind)
        row[bounds(column)[0]], row[bounds(column)[1]] = value.interval(kind)
        evaluation.resampled.setdefault(column, {})[method] = getattr(value, f"{kind}_draws")


def _ceilings(truth: PosteriorScores | None, classes, subset_losses, within_class_losses) -> dict[str, float]:
    out = {}
    if truth is not None:
        out["loo_corr"] = ceiling_of(loo_reliability(truth, spearman_per_column))
        out["loo_pearson"] = ceiling_of(loo_reliability(truth, pearson_per_column))
        if classes is not None:
            out["loo_corr_within_class"] = ceiling_of(loo_reliability(truth, spearman_per_column, classes))
    if subset_losses is not None:
        out["lds"] = ceiling_of(lds_reliability(subset_losses, spearman_per_column))
    if within_class_losses is not None:
        out["lds_within_class"] = ceiling_of(lds_reliability(within_class_losses, spearman_per_column))
    return out


def _prepared_truths(truth: PosteriorScores, draws: Draws, sign: int, classes) -> dict[str, TruthTargets]:
    """The LOO truth prepared once per LOO metric (Spearman, Pearson, within-class Spearman)."""
    out = {"loo_corr": TruthTargets.of(truth, draws, sign),
           "loo_pearson": TruthTargets.of(truth, draws, sign, pearson_per_column)}
    if classes is not None:
        out["loo_corr_within_class"] = TruthTargets.of(truth, draws, sign, classes=classes)
    return out


def evaluate_methods(posteriors: dict[str, PosteriorScores], significance: pd.DataFrame, signs: dict[str, int],
                     truth: str | None = None, subset_losses: SubsetLosses | None = None,
                     seconds: dict[str, float] | None = None, classes: ItemClasses | None = None,
                     within_class_losses: SubsetLosses | None = None, draws: Draws | None = None,
                     other_truths: dict[str, PosteriorScores] | None = None, untested: tuple[str, ...] = ()) -> Evaluation:
    """Per method: its helpful sign; the lead test (the paper's z-test with 10 or more seeds, else the predictive
    rule) at the method's largest K, with the same-class/cross-class split where classes are given, and every
    test's rate beside it; where the truth method is given, LOO correlation (Spearman, Pearson, and with classes
    within-class Spearman); with subset losses, LDS (random halves; with stratified ones, within-class LDS); each
    single and mean with its interval, ceiling and share; with seconds, the mean seconds per checkpoint. Each of
    `other_truths` (e.g. the from-scratch LOO, `loo_scratch`) adds <name>_corr and <name>_corr_within_class
    (Spearman against its posterior mean, helpful sign +1), so that rankings under each truth sit side by side."""
    test = lead_test(significance)
    rows_of_test = lead_rows(significance, test)
    top = at_largest_k(rows_of_test).set_index("method")
    first = next(iter(posteriors.values()))
    draws = draws if draws is not None else draw(len(first.seeds), len(first.test_idx))
    truth_scores = posteriors[truth] if truth is not None else None
    evaluation = Evaluation(pd.DataFrame(), {}, _ceilings(truth_scores, classes, subset_losses, within_class_losses))
    truths = {} if truth_scores is None else _prepared_truths(truth_scores, draws, signs.get(truth, 1), classes)
    for name, other in (other_truths or {}).items():
        truths[f"{name}_corr"] = TruthTargets.of(other, draws)
        if classes is not None:
            truths[f"{name}_corr_within_class"] = TruthTargets.of(other, draws, classes=classes)
    rows = []
    for method, scores in posteriors.items():
        sign = signs.get(method, 1)
        if method in untested:  # one score per pair: its samples are terms of one statistic, no test applies
            row = {"method": method, "helpful_sign": sign, "test": NOT_TESTED, "K": scores.num_checkpoints}
        else:
            row = {"method": method, "helpful_sign": sign, "test": top.loc[method, "test"],
                   "K": int(top.loc[method, "K"]), "mean_p": top.loc[method, "mean_p"],
                   "fraction_p_below_0.05": top.loc[method, "fraction_p_below_0.05"],
                   "significant_after_BH_5%": int(top.loc[method, "significant_after_BH_5%"])}
            row.update({c: top.loc[method, c] for c in SPLIT_COLUMNS if c in top.columns})
            _test_columns(row, significance, method, row["K"])
        k = row["K"]
        if truths:
            row["loo_truth"] = truth
            for name, prepared in truths.items():
                _put(evaluation, row, method, name, loo_resampled(scores, prepared, k, draws, sign))
        if subset_losses is not None:
            row["lds_target"] = subset_losses.target
            _put(evaluation, row, method, "lds", lds_resampled(scores, subset_losses, k, draws, sign))
        if within_class_losses is not None:
            _put(evaluation, row, method, "lds_within_class", lds_resampled(scores, within_class_losses, k, draws,
                                                                            sign))
        for metric, ceiling in evaluation.ceilings.items():
            row[f"{metric}_ceiling"] = ceiling
            row[f"{metric}_mean_share"] = row[f"{metric}_mean"] / ceiling if ceiling > 0 else float("nan")
        if seconds is not None:
            row["seconds_per_checkpoint"] = seconds.get(method, float("nan"))
        rows.append(row)
    evaluation.table = pd.DataFrame(rows).set_index("method")
    return evaluation


def methods_table(*args, **kwargs) -> pd.DataFrame:
    """evaluate_methods' table alone (methods.csv)."""
    return evaluate_methods(*args, **kwargs).table


def ranked_methods(table: pd.DataFrame, column: str, skip_truth: bool, truth: str | None) -> list[str]:
    """The methods a metric ranks, best first: not the controls, and not the LOO truth on its own LOO metrics."""
    excluded = ({truth, "loo"} if skip_truth else set()) | set(CONTROLS)
    values = table[column].dropna()
    return [m for m in values.sort_values(ascending=False).index if m not in excluded]


def comparisons(evaluation: Evaluation, truth: str | None) -> pd.DataFrame:
    """comparisons.csv: per ranked metric, every ranked method against each control and against the best method,
    paired, Holm-corrected over all the rows (the comparisons summary.md reads)."""
    rows = []
    table = evaluation.table
    for column, _, skip_truth in RANKED_METRICS:
        if column not in table.columns or column not in evaluation.resampled:
            continue
        ranked = ranked_methods(table, column, skip_truth, truth)
        if not ranked:
            continue
        estimates = table[column].to_dict()
        pairs = [(m, c) for c in CONTROLS if c in table.index for m in ranked]
        pairs += [(ranked[0], m) for m in ranked[1:]]
        rows += compare(estimates, evaluation.resampled[column], column, pairs)
    return with_holm(rows)
