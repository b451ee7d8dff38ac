"""The posterior test of a set of methods' scores, as one report: p-values, correlations between methods, the noise
decomposition, the methods table (LOO correlation, LDS) and summary.md, computed whole before anything is written.

Arrays or PosteriorScores in, tables out; the helpful signs and the LOO truth are passed in (`Roles`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import BadInput
from ..core.io import save_csv, save_text
from ..data.subset_losses import SubsetLosses
from .advice import advice_table
from .classes import ItemClasses
from .correlations import compute_correlations, save_correlations
from .figures import advice_figure, correlation_heatmaps, cost_figure, noise_figure
from .methods_table import comparisons, evaluate_methods
from .metrics import LOO_TRUTH
from .noise import compute_noise
from .nulls import null_table
from .phantoms import phantom_table
from .posterior import PosteriorScores
from .pvalues import compute_pvalues, mean_pvalues, pvalue_tables, save_pvalues
from .resampling import draw
from .seed_count import seed_count_table
from .summary import Scope, write_summary
from .truths import agreement

log = logging.getLogger(__name__)


@dataclass
class PosteriorResult:
    """What the posterior test says of a set of methods' scores (the same tables the CSVs hold)."""

    significance: pd.DataFrame  # per method, K and test: mean p, fraction p < 0.05, BH-significant pairs
    mean_p_values: pd.DataFrame  # K x method, the paper's z-test
    correlations: dict[str, pd.DataFrame]  # {pearson,spearman}_corr_{mu,sigma,snr}
    noise: pd.DataFrame  # between-seed and within-run shares of score variance
    methods: pd.DataFrame  # per method: z-test at the largest K, LOO correlation (single, mean) where LOO is given
    summary: str
    comparisons: pd.DataFrame | None = None  # paired differences between methods, Holm-corrected
    advice: pd.DataFrame | None = None  # per method and test: accuracy of passing vs failing pairs (with a truth)
    nulls: pd.DataFrame | None = None  # every test on per-seed shuffled items
    seed_counts: pd.DataFrame | None = None  # every test and the within-class metrics on subsets of the seeds
    seed_holds: pd.DataFrame | None = None  # per method, the fewest seeds whose values stay in the full run's interval
    truths: pd.DataFrame | None = None  # how the LOO truths and LDS agree (with other truths)
    phantoms: pd.DataFrame | None = None  # every test on items never trained on (their truth exactly 0)


def write_result(result: PosteriorResult, folder: Path, name: str) -> None:
    """Every CSV and figure of a posterior test, and summary.md last."""
    methods = result.methods
    save_correlations(result.correlations, folder)
    save_csv(result.noise, folder / "noise_decomposition.csv")
    save_csv(methods, folder / "methods.csv", index=True)
    save_csv(result.comparisons, folder / "comparisons.csv")
    save_csv(result.seed_counts, folder / "seed_count.csv")
    save_csv(result.nulls, folder / "nulls.csv")
    if result.phantoms is not None:
        save_csv(result.phantoms, folder / "phantoms.csv")
    if result.truths is not None:
        save_csv(result.truths, folder / "truths.csv", index=True)
    save_csv(result.seed_holds, folder / "seed_count_summary.csv")
    if {"lds_within_class_mean", "seconds_per_checkpoint"} <= set(methods.columns):
        cost_figure(methods, f"{name}: within-class LDS against cost (marker area: sign-reliable fraction)",
                    folder / "cost")
    if result.advice is not None:
        save_csv(result.advice, folder / "advice.csv")
        advice_figure(result.advice, f"{name}: are sign-reliable pairs more accurate?", folder / "advice")
    for kind in ("spearman", "pearson"):
        correlation_heatmaps(result.correlations, kind, f"{name}: {kind} between methods", folder / f"{kind}_corr")
    noise_figure(result.noise, f"{name}: sources of score variance", folder / "noise_decomposition")
    save_text(result.summary, folder / "summary.md")


def as_posteriors(scores) -> dict[str, PosteriorScores]:
    """{method: PosteriorScores} from {method: array (seeds, checkpoints, n_train, n_test)} or PosteriorScores,
    checked as a whole: at least one method, every method scoring the same train and test items (one line
    naming the first that does not, before anything is computed or written)."""
    if not scores:
        raise BadInput("no scores given; pass {method: array (seeds, checkpoints, n_train, n_test)}")
    posteriors = {m: s if isinstance(s, PosteriorScores) else PosteriorScores.from_array(m, s) for m, s in scores.items()}
    first = next(iter(posteriors.values()))
    for post in posteriors.values():
        if post.values.shape[2:] != first.values.shape[2:] or not (
                np.array_equal(post.train_idx, first.train_idx) and list(post.test_columns) == list(first.test_columns)):
            raise BadInput(f"scores of {post.method!r} ({post.values.shape[2]} train x {post.values.shape[3]} test "
                           f"items) score other pairs than {first.method!r} ({first.values.shape[2]} x "
                           f"{first.values.shape[3]}); methods are compared pair by pair: give every method the "
                           "same train and test items in the same order")
    return posteriors


@dataclass(frozen=True)
class Roles:
    """How the analysis reads each method: its helpful sign, the LOO ground truth, and the notes that say where a
    name matching a built-in method was not given that method's sign or role."""

    signs: dict[str, int]
    truth: str | None
    notes: tuple[str, ...] = ()
    untested: tuple[str, ...] = ()  # one score per pair (e.g. bif_ensemble): metrics only, no posterior test

    def describe(self) -> str:
        """One line for the terminal: the signs and the truth used."""
        signs = ", ".join(f"{m} {'+1' if s > 0 else '-1'}" for m, s in self.signs.items())
        return f"helpful signs: {signs}; LOO ground truth: {self.truth or 'none'}"


def roles_for(methods, signs: dict[str, int] | None = None, truth: str | None = None,
              command_line: bool = False, builtin_signs: dict[str, int] | None = None) -> Roles:
    """The roles of anyone's scores: `signs` as given (+1, positive = helpful, for every method not in it; entries
    of other methods are ignored, so the built-in table `helpful_signs()` can be passed whole), the truth only when
    named. A name that matches a built-in method with another sign, or the built-in LOO truth left unused, gets a
    note (logged and written in summary.md) saying how to give it that sign or role, as a flag where
    `command_line`, else as an argument."""
    methods = list(methods)
    if truth is not None and truth not in methods:
        raise BadInput(f"{truth!r} is given the truth role but is not among the scores; methods: {', '.join(methods)}")
    signs = {m: s for m, s in (signs or {}).items() if m in methods}
    bad = {m: s for m, s in signs.items() if s not in (1, -1)}
    if bad:
        method, sign = next(iter(bad.items()))
        raise BadInput(f"helpful sign {sign!r} of {method!r}; allowed: +1 (positive = helpful), -1 (negative = helpful)")
    builtin = builtin_signs or {}
    notes = []
    for method in methods:
        if method not in signs and builtin.get(method, 1) != 1:
            how = f"--signs {method}=-1 (or --builtin-signs)" if command_line else f"signs={{'{method}': -1}}"
            notes.append(f"`{method}` is named like the built-in method whose helpful sign is -1, but is read as given "
                         f"(+1, positive = helpful); if these are that method's scores, pass {how}")
    if truth is None and LOO_TRUTH in methods:
        how = f"--truth {LOO_TRUTH}" if command_line else f"truth='{LOO_TRUTH}'"
        notes.append(f"`{LOO_TRUTH}` is among the scores but not used as the LOO ground truth; pass {how} for the LOO "
                     "correlation columns")
    for note in notes:
        log.warning("%s", note.replace("`", ""))
    return Roles({m: signs.get(m, 1) for m in methods}, truth, tuple(notes))


def pvalues_of(scores, out: Path | str | None = None, classes: ItemClasses | None = None) -> pd.DataFrame:
    """The significance table of the scores (split into same-class and cross-class pairs where `classes` are
    given); with `out`, the p-value CSVs are written there."""
    return compute_pvalues(as_posteriors(scores), None if out is None else Path(out), classes)


def correlations_of(scores, out: Path | str | None = None, name: str = "scores",
                    significance: pd.DataFrame | None = None, roles: Roles | None = None,
                    subset_losses: SubsetLosses | None = None, seconds: dict[str, float] | None = None,
                    classes: ItemClasses | None = None, within_class_losses: SubsetLosses | None = None,
                    scope: Scope | None = None,
                    other_truths: dict[str, PosteriorScores] | None = None,
                    phantoms: dict[str, PosteriorScores] | None = None,
                    phantom_labels: np.ndarray | None = None) -> PosteriorResult:
    """Correlations, noise decomposition, the methods table and summary (p-values computed unless given); with
    `out`, every file. `roles` (default: every sign +1, no truth) gives each method's helpful sign and the method
    whose posterior mean is the LOO ground truth; `subset_losses` (the LDS retraining's test losses) adds LDS;
    `seconds` (per method) adds its time column; `classes` (the items' labels) adds the same-class/cross-class
    split and the within-class LOO correlation; `within_class_losses` (class-stratified halves) the within-class
    LDS; `other_truths` ({name: scores}, e.g. the from-scratch LOO) adds their columns and truths.csv; `scope` adds
    sentences that say what the numbers stand for (e.g. full-batch training) to summary.md; `phantoms` ({method:
    scores of items never trained on}, their labels in `phantom_labels`) adds phantoms.csv, each test's false-trust
    rate.
    Also comparisons.csv (paired differences, Holm), nulls.csv (the tests on per-seed shuffled items),
    seed_count.csv and seed_count_summary.csv (every test and the
    within-class metrics on subsets of the seeds) and, with a truth, advice.csv and its figure."""
    posteriors = as_posteriors(scores)
    roles = roles if roles is not None else roles_for(posteriors)
    folder = None if out is None else Path(out)
    first = next(iter(posteriors.values()))
    if classes is not None:
        classes.check(len(first.train_idx), len(first.test_idx))
    tested = {m: p for m, p in posteriors.items() if m not in roles.untested}
    significance = compute_pvalues(tested, classes=classes) if significance is None else significance
    significance = significance[~significance["method"].isin(roles.untested)]
    correlations = compute_correlations(tested)
    noise = compute_noise(tested)
    draws = draw(len(first.seeds), len(first.test_idx))
    evaluation = evaluate_methods(posteriors, significance, roles.signs, roles.truth, subset_losses, seconds, classes,
                                  within_class_losses, draws, other_truths, roles.untested)
    truths = None if roles.truth is None or not other_truths else agreement(
        {roles.truth: posteriors[roles.truth], **other_truths}, roles.signs, draws, classes, subset_losses,
        within_class_losses)
    methods, compared = evaluation.table, comparisons(evaluation, roles.truth)
    advice = None if roles.truth is None else advice_table(tested, methods["K"].to_dict(), roles.signs,
                                                           roles.truth, classes, draws)
    nulls = null_table(tested, methods["K"].to_dict(), classes)
    phantom_rows = None if not phantoms else phantom_table(tested, phantoms, methods["K"].to_dict(), roles.signs,
                                                           roles.truth, classes, phantom_labels, subset_losses,
                                                           within_class_losses)
    seed_counts, seed_holds = seed_count_table(tested, methods.drop(index=list(roles.untested), errors="ignore"),
                                               roles.signs, roles.truth, classes,
                                               within_class_losses, draws)
    n_seeds = min(len(p.seeds) for p in posteriors.values())
    n_checkpoints = max(p.num_checkpoints for p in posteriors.values())
    summary = write_summary(name, significance, correlations, noise, n_seeds, n_checkpoints, methods, roles.truth,
                            roles.signs, roles.notes, compared, advice, scope, seed_counts, seed_holds, truths, nulls,
                            phantom_rows)
    result = PosteriorResult(significance, mean_pvalues(significance), correlations, noise, methods, summary, compared,
                             advice, nulls, seed_counts, seed_holds, truths, phantom_rows)
    if folder is not None:  # every number is computed: only now is anything written
        write_result(result, folder, name)
    return result


def posterior_test(scores, out: Path | str | None = None, name: str = "scores", truth: str | None = None,
                   subset_losses: SubsetLosses | None = None, signs: dict[str, int] | None = None,
                   classes: ItemClasses | None = None, within_class_losses: SubsetLosses | None = None,
                   builtin_signs: dict[str, int] | None = None) -> PosteriorResult:
    """The paper's test for any scores: z-test p-values (and the t-test with S − 1 dof), Benjamini-Hochberg
    counts, correlations between methods and the noise decomposition; with `out`, every CSV, figure and
    summary.md, as for an experiment. Everything is checked before anything is written.

    Args:
        scores: {method: array (seeds, checkpoints, n_train, n_test)}, numpy or torch, or PosteriorScores (e.g.
            from load_scores_dir); at least 2 seeds, every method scoring the same pairs.
        out: folder for the files (None: nothing is written).
        name: the title of summary.md.
        truth: the method whose posterior mean is the LOO ground truth (adds the LOO correlation columns);
            None: no LOO correlation. A method named loo_corrected is not taken as the truth unless named here.
        subset_losses: bayestda.analysis.SubsetLosses (M train subsets and the test losses of models trained on them):
            adds LDS.
        signs: {method: +1 or -1}, the sign that means "helpful" (default +1 for every method: scores are read as
            given, positive = helpful; `bayestda.attribution.helpful_signs()` has the built-in methods' signs).
        classes: ItemClasses(train_labels, test_labels) in the scores' item order: splits the significant pairs
            into same-class and cross-class ones and adds the within-class LOO correlation.
        within_class_losses: SubsetLosses over class-stratified halves (every subset keeps half of each class):
            adds the within-class LDS.
        builtin_signs: the built-in methods' signs (`bayestda.attribution.helpful_signs()`): a method named like
            one whose sign differs gets a note saying how to give it that sign (the library itself never imports the
            methods, nor torch).

    Returns:
        PosteriorResult: the significance table, mean p-values, correlations, noise decomposition, methods table
        (with the signs and truth used) and the summary text.
    """
    posteriors = as_posteriors(scores)
    roles = roles_for(posteriors, signs, truth, builtin_signs=builtin_signs)
    first = next(iter(posteriors.values()))
    if classes is not None:
        classes.check(len(first.train_idx), len(first.test_idx))
    pvalues = pvalue_tables(posteriors, classes)
    result = correlations_of(posteriors, out, name, pvalues.table, roles, subset_losses, classes=classes,
                             within_class_losses=within_class_losses)  # writes only when all is computed
    if out is not None:
        save_pvalues(pvalues, Path(out))
    return result
