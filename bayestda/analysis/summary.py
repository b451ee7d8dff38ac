"""summary.md: the tables, the figures, and one sentence per paper claim from the numbers, each with its scope."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .advice import buys_accuracy
from .comparisons import separation
from .guidance import WITHIN_CLASS, which_method
from .methods_table import CONTROLS, RANKED_METRICS, ranked_methods
from .metrics import interval_columns
from .pvalues import at_largest_k, keys_of_tests, lead_rows, lead_test, mean_pvalues
from .statistics import TEST_BY_KEY, TESTS
from .truths import ranks_under_truths

GROUND_TRUTH = ("loo", "ats")
ESTIMATORS = ("if", "gd", "gc")
PAPER_METHODS = GROUND_TRUTH + ESTIMATORS
ADVICE_TESTS = ("z", "predictive")  # the sign-reliability questions the paper's advice is about


@dataclass(frozen=True)
class Scope:
    """What the numbers stand for beyond the scores themselves: the training set size and batch (full-batch
    training has no batch composition to vary within a run), and the training subset (one draw)."""

    train_items: int | None = None
    batch_size: int | None = None
    subset: str | None = None
    posterior: str | None = None  # how the posterior was sampled, where not the paper's (e.g. a slice: make quick)

    @property
    def full_batch(self) -> bool | None:
        if self.train_items is None or self.batch_size is None:
            return None
        return self.train_items <= self.batch_size

    def sentence(self) -> str:
        parts = [f"**posterior: {self.posterior}**"] if self.posterior else []
        if self.full_batch is not None:
            parts.append(f"{self.train_items} train items in batches of {self.batch_size}: "
                         + ("every epoch is one full batch (no batch composition varies within a run)"
                            if self.full_batch else "minibatches reshuffled every epoch"))
        if self.subset:
            parts.append(f"one training subset ({self.subset}): every interval is conditional on it (`_cond_` "
                         "columns); an interval over subsets needs replicates")
        return "Scope: " + "; ".join(parts) + "." if parts else ""


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
    if isinstance(value, str):
        return value.replace("|", "\\|")  # a literal bar inside a Markdown table cell
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


def _test_name(key: str) -> str:
    return {"z": "the paper's z-test (sign-reliable: |μ|/σ > 1.96)", "t": "the t-test (a non-zero posterior mean)",
            "sign": "the sign test (the seeds agree on the sign)",
            "predictive": "the predictive rule (a new model's sign: |μ|/σ > t(S−1)·√(1+1/S))"}[key]


def _at_largest_k(significance: pd.DataFrame, key: str) -> pd.DataFrame:
    return at_largest_k(lead_rows(significance, key)).set_index("method")


def calibration(significance: pd.DataFrame, n_seeds: int) -> str:
    """The tests by their questions, with each test's rate on the `random` control beside its rate on iid noise."""
    top = at_largest_k(significance)
    random_rows = top[top["method"] == "random"].assign(key=lambda f: keys_of_tests(f).values).set_index("key") \
        if "random" in set(top["method"]) else None
    view = pd.DataFrame(index=pd.Index([t.key for t in TESTS], name="test"))
    view["question"] = [t.question for t in TESTS]
    view["on iid noise"] = [f"{t.noise_rate(n_seeds):.2g}" for t in TESTS]
    if random_rows is not None:
        view["on `random`"] = [f"{random_rows.loc[t.key, 'fraction_p_below_0.05']:.2g}"
                               if t.key in random_rows.index else "-" for t in TESTS]
    text = _table(view)
    text += ("\n\nEach test's fraction of pairs at p < 0.05 on independent noise over the same seeds (its calibration)"
             + (", beside its rate on the `random` control's scores." if random_rows is not None else
                "; no `random` control among these methods to read it on.")
             + " The z-test is the paper's and stays the default: it answers whether one model's sign can be trusted, "
             "not whether the mean is non-zero, so it fires far below 5% on noise; the t-test is the 5% test of a "
             "non-zero mean; the predictive rule asks the z-test's question with the small-sample threshold.")
    return text


def claims(significance: pd.DataFrame, correlations: dict[str, pd.DataFrame], noise: pd.DataFrame,
           scope: Scope | None = None) -> list[str]:
    """One sentence per claim of the paper (docs/protocol.md), each saying whether these scores support it and under
    which test, truth and training regime.

    Claims 1, 2 and 4 are read on the paper's five methods where present (else on every method), at each
    method's largest K, with the lead test (the z-test with 10 or more seeds, else the predictive rule) and the
    t-test beside it; claim 3 needs LOO or ATS and two estimators.
    """
    test = lead_test(significance)
    paper = _at_largest_k(significance, test)
    t_rows = _at_largest_k(significance, "t")
    methods = [m for m in PAPER_METHODS if m in paper.index] or list(paper.index)
    frac = paper.loc[methods, "fraction_p_below_0.05"]
    mean_p = paper.loc[methods, "mean_p"]
    sentences = []
    ok = bool((frac < 0.5).all())
    t_frac = ", ".join(f"{m} {t_rows.loc[m, 'fraction_p_below_0.05']:.1%}" for m in methods if m in t_rows.index)
    sentences.append(
        f"1. Most pairs are not sign-reliable: {'supported' if ok else 'not supported'} under "
        f"{_test_name(test)}. With every checkpoint averaged, its fraction of pairs with p < 0.05 is "
        f"{', '.join(f'{m} {frac[m]:.1%}' for m in methods)}; mean p-values "
        f"{', '.join(f'{m} {mean_p[m]:.2f}' for m in methods)}. Under the t-test (is the posterior mean non-zero?) "
        f"the fractions are {t_frac}: a score that is not sign-reliable can still have a non-zero mean.")
    bh = paper.loc[methods, "significant_after_BH_5%"]
    bh_t = t_rows.loc[[m for m in methods if m in t_rows.index], "significant_after_BH_5%"]
    exist = [m for m in methods if frac[m] > 0]
    under_half = [m for m in methods if frac[m] < 0.5]
    rare_but_exist = bool(((frac > 0) & (frac < 0.5)).all())
    sentences.append(
        f"2. Noise-independent pairs are rare but exist: {'supported' if rare_but_exist else 'not supported'} under "
        f"{_test_name(test)}. Pairs with p < 0.05 exist for {_which(exist, methods)} and make up under half of all "
        f"pairs for {_which(under_half, methods)}; after Benjamini-Hochberg at 5%, "
        f"{', '.join(f'{m} {int(bh[m])}' for m in methods)} of {int(paper['pairs'].iloc[0])} pairs remain "
        f"(t-test: {', '.join(f'{m} {int(v)}' for m, v in bh_t.items())}).")
    sentences.append(_claim_3(correlations))
    sentences.append(_claim_4(noise, methods, scope))
    return sentences


def _claim_3(correlations: dict[str, pd.DataFrame]) -> str:
    truth_present = [m for m in GROUND_TRUTH if m in correlations["spearman_corr_mu"].index]
    estimators_present = [m for m in ESTIMATORS if m in correlations["spearman_corr_mu"].index]
    values = {}
    for statistic in ("mu", "sigma"):
        matrix = correlations[f"spearman_corr_{statistic}"]
        values[statistic] = (_mean_abs(matrix, GROUND_TRUTH, ESTIMATORS), _mean_abs(matrix, ESTIMATORS, ESTIMATORS),
                             _mean_abs(matrix, ("loo",), ESTIMATORS))
    claim = ("3. Ground truth (LOO, ATS) and estimators (IF, GD, GC) disagree while the estimators agree with each "
             "other: ")
    if not truth_present or len(estimators_present) < 2 or np.isnan([*values["mu"][:2], *values["sigma"][:2]]).any():
        here = listing(truth_present + estimators_present) or "none of them"
        return claim + (f"not assessed: it needs loo or ats and two of if, gd and gc among the methods "
                        f"(here: {here}).")
    (mu_across, mu_among, mu_loo), (sigma_across, sigma_among, sigma_loo) = values["mu"], values["sigma"]
    ok = mu_across < mu_among and sigma_across < sigma_among
    text = claim + (f"{'supported' if ok else 'not supported'} with the paper's grouping. Mean |Spearman| of μ "
                    f"between the groups {mu_across:.2f} vs {mu_among:.2f} among estimators; of σ {sigma_across:.2f} "
                    f"vs {sigma_among:.2f}.")
    if "loo" in truth_present and not np.isnan([mu_loo, sigma_loo]).any():
        loo_ok = mu_loo < mu_among and sigma_loo < sigma_among
        text += (f" With LOO alone as the truth (ATS is a first-order retraining step, close to −GD by construction): "
                 f"{'supported' if loo_ok else 'not supported'}, μ {mu_loo:.2f} vs {mu_among:.2f}, σ {sigma_loo:.2f} "
                 f"vs {sigma_among:.2f}.")
    return text


def _claim_4(noise: pd.DataFrame, methods: list[str], scope: Scope | None) -> str:
    claim = "4. Initialisation (seed) is a larger noise source than batch composition within a run: "
    rows = noise.set_index("method")
    shown = [m for m in methods if m in rows.index]
    shares = rows.loc[shown, "seed_component_share"].dropna() if "seed_component_share" in rows else \
        rows.loc[shown, "between_seed_fraction"].dropna()
    if shares.empty:
        return claim + "not assessed: every method has one score per seed, so nothing varies within a run."
    floor = rows.loc["random", "seed_component_share"] if "random" in rows.index and \
        "seed_component_share" in rows else None
    if scope is not None and scope.full_batch:
        verdict = ("not testable here: every epoch is one full batch, so the within-run part is the drift between "
                   "checkpoints, not batch composition")
    else:
        dominated = int((shares > 0.5).sum())
        verdict = "supported" if dominated > len(shares) / 2 else "not supported"
    paper_shares = rows.loc[shown, "between_seed_fraction"].dropna()
    return claim + (f"{verdict}. The seed's variance component (one-way random effects) is "
                    f"{', '.join(f'{m} {v:.0%}' for m, v in shares.items())} of the variance"
                    + (f" (the `random` control's: {floor:.0%}, the floor)" if floor is not None and
                       np.isfinite(floor) else "")
                    + "; the paper's between-seed share "
                    f"{', '.join(f'{m} {v:.0%}' for m, v in paper_shares.items())}"
                    + (f" (`random`: {rows.loc['random', 'between_seed_fraction']:.0%})" if "random" in rows.index
                       else "") + ".")


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
    if test == "z":
        return ""
    return (f" With {n_seeds} seeds the claims and methods.csv lead with the predictive rule: it asks the paper's "
            f"z-test's question (will one model's score keep μ's sign?) with the threshold "
            f"t({n_seeds - 1})·√(1+1/{n_seeds}) in place of 1.96, which is lax for few seeds; the z-test's numbers "
            "are beside it.")


def _with_interval(methods: pd.DataFrame, method: str, column: str, fmt: str = ".2f") -> str:
    columns = interval_columns(methods, column)
    value = methods.loc[method, column]
    if np.isnan(value):
        return "-"
    if columns is None:
        return f"{value:{fmt}}"
    low, high = (methods.loc[method, c] for c in columns)
    return f"{value:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


INTERVAL_COLUMNS = (("loo_corr", "LOO"), ("loo_corr_within_class", "LOO within class"), ("lds", "LDS"),
                    ("lds_within_class", "LDS within class"))


def compact_table(methods: pd.DataFrame) -> pd.DataFrame:
    """summary.md's view of methods.csv: every test's fraction of pairs at p < 0.05, the lead test's same-class and
    cross-class split, and each metric's posterior-mean value with its 95% interval."""
    view = pd.DataFrame(index=methods.index)
    view["K"] = methods["K"]
    share = lambda v: "n/a" if pd.isna(v) else f"{v:.0%}"  # noqa: E731 (n/a: a method without a test, bif_ensemble)
    for key in TEST_BY_KEY:
        if f"fraction_p_below_0.05_{key}" in methods.columns:
            view[f"p < 0.05 ({key})"] = methods[f"fraction_p_below_0.05_{key}"].map(share)
    if not any(c.startswith("p < 0.05") for c in view.columns):
        view["p < 0.05"] = methods["fraction_p_below_0.05"].map(share)
    if "fraction_p_below_0.05_same_class" in methods.columns:
        view["same / cross class"] = [f"{share(a)} / {share(b)}" for a, b in zip(
            methods["fraction_p_below_0.05_same_class"], methods["fraction_p_below_0.05_cross_class"])]
    for column, title in INTERVAL_COLUMNS:
        if f"{column}_mean" in methods.columns:
            view[title] = [_with_interval(methods, m, f"{column}_mean") for m in methods.index]
    if "seconds_per_checkpoint" in methods.columns:
        view["s/ckpt"] = methods["seconds_per_checkpoint"]
    return view


def ceilings_line(methods: pd.DataFrame) -> str:
    """The truths' own ceilings, as one sentence (empty without any)."""
    found = [(title, methods[f"{column}_ceiling"].iloc[0]) for column, title in INTERVAL_COLUMNS
             if f"{column}_ceiling" in methods.columns]
    if not found:
        return ""
    return ("Ceilings (the split-half reliability of the truth, Spearman-Brown corrected, square-rooted: the most a "
            "method can be expected to reach against this noisy truth; `<metric>_mean_share` in methods.csv is a "
            "method's value as a share of it): " + ", ".join(f"{title} {value:.2f}" for title, value in found) + ".")


def ranking_claims(methods: pd.DataFrame, truth: str | None, compared: pd.DataFrame | None = None) -> list[str]:
    """Per metric: which methods beat each control and which cannot be told from the best, from the paired
    differences of comparisons.csv (Holm-corrected); without them, from non-overlapping intervals."""
    sentences = []
    for column, title, skip_truth in RANKED_METRICS:
        if column not in methods.columns:
            continue
        ranked = ranked_methods(methods, column, skip_truth, truth)
        values = methods[column].dropna()
        if not ranked or (len(ranked) < 2 and not any(c in values.index for c in CONTROLS)):
            continue
        separated = separation(methods, column, compared)
        parts = []
        for control in (c for c in CONTROLS if c in values.index):
            above = [m for m in ranked if separated(m, control) and values[m] > values[control]]
            below = [m for m in ranked if separated(m, control) and values[m] < values[control]]
            tied = [m for m in ranked if m not in above and m not in below]
            margin = ", ".join(f"{m} +{values[m] - values[control]:.2f}" for m in above)
            above_text = f"{len(above)} of {len(ranked)} ({margin})" if above else _which(above, ranked)
            parts.append(f"against `{control}` ({_with_interval(methods, control, column)}), above it: "
                         f"{above_text}; not separated: {_which(tied, ranked)}; below it: {_which(below, ranked)}")
        best = ranked[0]
        ties = [m for m in ranked[1:] if not separated(best, m)]
        parts.append(f"highest: {best} ({_with_interval(methods, best, column)})"
                     + (f", not separated from {listing(ties)}" if ties else ", separated from every other method"))
        sentences.append(f"- {title}: " + "; ".join(parts) + ".")
    return sentences


def methods_section(methods: pd.DataFrame, truth: str | None, compared: pd.DataFrame | None = None) -> str:
    """The per-method view of summary.md (every column is in methods.csv), what its columns mean, and the rankings
    that survive the controls and the paired comparisons."""
    text = _table(compact_table(methods))
    text += ("\n\np < 0.05 (test): the fraction of pairs at p < 0.05 under each test (its question is in the tests' "
             "table above); same / cross class: the lead test's fraction among pairs whose train and test items share "
             "a class, and among the others. Each metric is the posterior mean's value with its 95% interval (a "
             "hierarchical bootstrap over seeds, then test items; conditional on the training subset: the `_cond_` "
             "columns of methods.csv, which also has the single-sample values, Pearson, ceilings and shares).")
    ceilings = ceilings_line(methods)
    if ceilings:
        text += "\n\n" + ceilings
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
    rankings = ranking_claims(methods, truth, compared)
    if rankings:
        how = (f"paired differences on the same resamples, Holm-corrected over the {int(compared['comparisons'].iloc[0])} "
               "comparisons of comparisons.csv (each method against each control and against the highest)"
               if compared is not None and len(compared) else "non-overlapping 95% intervals")
        text += (f"\n\nWhat survives the controls (a method is above another only where they are separated: {how}; "
                 "the controls: `random` scores, and `same_class`, 1 where the train and test labels match):\n\n"
                 + "\n".join(rankings))
    return text


def advice_section(advice: pd.DataFrame, n_seeds: int) -> str:
    """Per sign-reliability test: for which methods the pairs it passes agree in sign with the truth more often."""
    lines = []
    for key in ADVICE_TESTS:
        label = TEST_BY_KEY[key].label(n_seeds)
        rows = advice[advice["test"] == label]
        if rows.empty:
            continue
        verdicts = {}
        named = {"yes": "yes", "no": "no (less accurate)", "not separated": "not separated"}
        for method, verdict in buys_accuracy(advice, label).items():
            row = rows.set_index("method").loc[method]
            shares = " vs ".join("-" if np.isnan(v) else f"{v:.0%}" for v in
                                 (row["sign_agreement_passing"], row["sign_agreement_failing"]))
            verdicts.setdefault(named.get(verdict, verdict), []).append(
                method if verdict in ("no passing pairs", "too few pairs") else f"{method} {shares}")
        lines.append(f"- {_test_name(key)}: " + "; ".join(f"{verdict}: {listing(names)}"
                                                          for verdict, names in verdicts.items()) + ".")
    return ("Does trusting the pairs a test passes buy accuracy? Sign agreement of the method's posterior mean with the "
            "LOO truth's, among the pairs passing vs failing each test (yes: the passing pairs' agreement is higher, "
            "the difference's 95% interval over test items above 0; advice.csv also has the within-class Spearman of "
            "each group and every test):\n\n" + "\n".join(lines) + "\n\n![advice](advice.png)")


def guidance_section(methods: pd.DataFrame, compared: pd.DataFrame | None, scope: Scope | None) -> str:
    """This analysis's row of the README's "which method, when" table, with its scope."""
    row = which_method(methods, compared)
    text = _table(pd.DataFrame([row]).set_index(pd.Index(["this analysis"], name="regime")).T.rename_axis("what"))
    text += ("\n\nBest by the posterior mean within a class (the LOO truth and the controls are not candidates); tied: "
             "not separated from the best; avoid: not separated from `random` within a class on either metric.")
    if scope is not None and scope.sentence():
        text += " " + scope.sentence()
    if "lds_within_class_mean" in methods.columns and "seconds_per_checkpoint" in methods.columns:
        text += "\n\n![cost](cost.png)"
    return text


def _rows_of_test(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """A per-method and per-test table's rows of one test (by its key), indexed by method."""
    return table[keys_of_tests(table).values == key].set_index("method")


def _captioned(view: pd.DataFrame, key: str, text: str) -> str:
    """A per-method table of one test, then its caption opening with the test's name."""
    view.index.name = "method"
    name = _test_name(key)
    return _table(view) + f"\n\n{name[0].upper() + name[1:]}: " + text


def nulls_section(nulls: pd.DataFrame, key: str) -> str:
    """The lead test's fraction of pairs observed and on per-seed shuffled items, per method."""
    rows = _rows_of_test(nulls, key)
    view = pd.DataFrame(index=rows.index)
    view["observed"] = rows["fraction_observed"].map(lambda v: f"{v:.1%}")
    view["items shuffled per seed"] = rows["fraction_shuffled_items"].map(lambda v: f"{v:.1%}")
    if "fraction_shuffled_within_class" in rows.columns:
        view["shuffled within class"] = rows["fraction_shuffled_within_class"].map(lambda v: f"{v:.1%}")
    return _captioned(view, key, "the fraction of pairs it passes, and of pairs whose train items "
                      "were shuffled independently in each seed (each seed's scores and their scale kept; only which item a "
                      "score belongs to is broken across seeds): the false-trust rate on the method's own marginals. Where the "
                      "shuffled rate is near the observed one, the sign-reliable pairs come from a per-test-item offset (all "
                      "items shuffled) or from the class alone (within class), not from the item. Every test in nulls.csv.")


def phantoms_section(phantoms: pd.DataFrame, key: str) -> str:
    """Per method, the lead test's rate on train pairs and on phantom pairs, and what the phantoms do to the
    within-class LOO correlation."""
    rows = _rows_of_test(phantoms, key)
    view = pd.DataFrame(index=rows.index)
    view["train pairs"] = rows["fraction_train_pairs"].map(lambda v: f"{v:.1%}")
    view["phantom pairs (false trust)"] = [_with_interval(rows, m, "false_trust_rate", ".1%") for m in rows.index]
    view["phantom |μ| / train |μ|"] = rows["phantom_over_train_abs_mean"].map(lambda v: f"{v:.2f}")
    if "phantom_on_top_within_class" in rows.columns:
        view["phantom on top in class"] = rows["phantom_on_top_within_class"].map(lambda v: f"{v:.0%}")
    if "loo_corr_within_class_with_phantoms" in rows.columns:
        view["within-class LOO corr"] = rows["loo_corr_within_class"].map(lambda v: f"{v:.3f}")
        view["with phantoms (truth 0)"] = [_with_interval(rows, m, "loo_corr_within_class_with_phantoms", ".3f")
                                           for m in rows.index]
    if "lds_within_class_with_phantoms" in rows.columns:
        view["within-class LDS"] = rows["lds_within_class"].map(lambda v: f"{v:.3f}")
        view["with phantom halves"] = [_with_interval(rows, m, "lds_within_class_with_phantoms", ".3f")
                                       for m in rows.index]
    return _captioned(view, key, "phantom items are held-out images as many as the train "
                      "items (the same classes), in no training subset of the experiment, scored by each method as if they were "
                      "train items on the same checkpoints (curvature and retrained models the training set's). Their true "
                      "effect is exactly 0, so every phantom pair a test passes is false trust: on the method's own marginals, "
                      "with a known answer. `loo`'s phantom rows are the extra training's shift (the full-data twin minus the "
                      "checkpoint), `loo_corrected`'s exactly 0. Phantom on top: the share of test items whose largest |μ| "
                      "among their class's train and phantom items is a phantom's. LDS with phantom halves: every subset "
                      "also holds half of each class's phantoms, which its models never saw. Intervals over test items "
                      "(seeds, phantom draw and LDS models fixed). Every test in phantoms.csv.")


def truths_section(methods: pd.DataFrame, truths: pd.DataFrame, truth: str | None) -> str:
    """How the truths agree, and each method's within-class rank under each."""
    agreement = pd.DataFrame(index=truths.index)
    for column in truths.columns:
        if column.endswith(("_lo", "_hi")):
            continue
        agreement[column] = [_with_interval(truths, name, column) for name in truths.index]
    ranks = ranks_under_truths(methods, set(CONTROLS) | {truth, "loo"})
    return (_table(agreement) + "\n\nEach truth's posterior mean against the other's (Spearman over train items, all "
            "and within the test item's class) and as an LDS predictor, with 95% intervals. `loo_corrected` is "
            "warm-started from the trained model (a local perturbation, the regime influence functions model); "
            "`loo_scratch` retrains each posterior seed from its own initialisation and batch order without the item; "
            "LDS retrains from scratch on halves.\n\n" + _table(ranks))


def seed_count_section(seed_counts: pd.DataFrame, seed_holds: pd.DataFrame) -> str:
    """The sign-reliable fraction's median over subsets of S seeds, and the smallest S at which each value holds."""
    top = at_largest_k(seed_counts)
    view = top.pivot_table(index="method", columns="S", values="fraction_p_below_0.05_z", aggfunc="median", sort=False)
    view.columns = [f"z at S = {s}" for s in view.columns]
    for value, title in (("loo_corr_within_class_mean", "smallest S, LOO within class"),
                         ("lds_within_class_mean", "smallest S, LDS within class"),
                         ("fraction_p_below_0.05_z", "smallest S, z fraction")):
        rows = seed_holds[seed_holds["value"] == value].set_index("method")["smallest_S"]
        if len(rows):
            view[title] = rows.reindex(view.index)
    view.index.name = "method"
    sizes = sorted(seed_counts["S"].unique())
    return (_table(view) + f"\n\nEvery test and the within-class metrics recomputed on subsets of the seeds (S = "
            f"{', '.join(map(str, sizes))}; up to 20 subsets each, every K in seed_count.csv). z at S: the median over "
            "subsets of the z-test's fraction at the method's largest K. Smallest S: the fewest seeds at which at least "
            "90% of subsets land inside the full run's 95% interval, and keep doing so with more seeds (the LOO truth "
            "stays the full run's); the z fraction's interval holds the seeds (over test items only), so it asks "
            "whether fewer seeds give these seeds' answer.")


def _single_sample_note(noise: pd.DataFrame) -> str:
    """Say which methods have one sample per seed (their within-run share is empty, their K is 1)."""
    single = list(noise.loc[noise["within_run_variance"].isna() & noise["between_seed_variance"].notna(), "method"])
    if not single:
        return ""
    return (f" {', '.join(single)}: one score per seed (the sum of its checkpoints' terms), so its posterior samples "
            "are the seeds: only K = 1 applies (its other K cells are empty) and the noise decomposition does not.")


def _significance_table(significance: pd.DataFrame) -> pd.DataFrame:
    top = at_largest_k(significance)
    top = top.assign(key=keys_of_tests(top).values)
    view = top.pivot(index="method", columns="key", values=["fraction_p_below_0.05", "significant_after_BH_5%"])
    view.columns = [f"{'p < 0.05' if a.startswith('fraction') else 'BH'} ({b})" for a, b in view.columns]
    view = view.reindex(list(dict.fromkeys(top["method"])))
    view.index.name = "method"
    return view


def write_summary(name: str, significance: pd.DataFrame, correlations: dict[str, pd.DataFrame], noise: pd.DataFrame,
                  n_seeds: int, n_checkpoints: int, methods: pd.DataFrame | None = None, truth: str | None = None,
                  signs: dict[str, int] | None = None, notes: tuple[str, ...] = (),
                  compared: pd.DataFrame | None = None, advice: pd.DataFrame | None = None,
                  scope: Scope | None = None, seed_counts: pd.DataFrame | None = None,
                  seed_holds: pd.DataFrame | None = None, truths: pd.DataFrame | None = None,
                  nulls: pd.DataFrame | None = None, phantoms: pd.DataFrame | None = None) -> str:
    """summary.md of one analysis, as text (the caller writes it once every number is computed)."""
    test = lead_test(significance)
    signs = signs if signs is not None else dict.fromkeys(noise["method"], 1)
    noise_columns = [c for c in ("between_seed_fraction", "within_run_fraction", "seed_component_share")
                     if c in noise.columns]
    noise_table = noise.set_index("method")[noise_columns]
    mean_p = [f"## Mean p-values ({_test_name(test)}), K = last checkpoints averaged per seed",
              _table(mean_pvalues(significance, test))]
    if test != "z":
        mean_p += ["## Mean p-values (the paper's z-test)", _table(mean_pvalues(significance))]
    scope_text = scope.sentence() if scope is not None else ""
    text = "\n\n".join([
        f"# {name}: Bayesian analysis of TDA scores",
        f"Generated by `run_correlation_analysis.py` from the scores of {n_seeds} seeds x {n_checkpoints} checkpoints."
        + _test_note(n_seeds, test) + " " + _signs(signs, truth, notes) + _single_sample_note(noise)
        + (f"\n\n{scope_text}" if scope_text else ""),
        "## The tests, each by its question",
        calibration(significance, n_seeds),
        *(["## A null with the real marginals: each seed's train items shuffled (nulls.csv)", nulls_section(nulls, test)]
          if nulls is not None and len(nulls) else []),
        *(["## Phantom items: images no model trained on, scored as train items (phantoms.csv)",
           phantoms_section(phantoms, test)] if phantoms is not None and len(phantoms) else []),
        "## The paper's claims, checked on these scores",
        "\n".join(claims(significance, correlations, noise, scope)),
        *(["## Which method, when", guidance_section(methods, compared, scope)] if methods is not None and any(
            c in methods.columns for c, _ in WITHIN_CLASS) else []),
        *(["## Methods (methods.csv): every test at the largest K, LOO correlation and LDS",
           methods_section(methods, truth, compared)] if methods is not None else []),
        *(["## Three truths: warm-started LOO, from-scratch LOO, LDS (truths.csv)",
           truths_section(methods, truths, truth)] if truths is not None and methods is not None else []),
        *(["## The paper's advice: are sign-reliable pairs more accurate? (advice.csv)",
           advice_section(advice, n_seeds)] if advice is not None and len(advice) else []),
        *(["## How many seeds does the test need? (seed_count.csv, seed_count_summary.csv)",
           seed_count_section(seed_counts, seed_holds)] if seed_counts is not None and seed_holds is not None
          and seed_counts["S"].nunique() > 1 else []),
        *mean_p,
        "## Significance at each method's largest K (every test; BH: pairs significant after Benjamini-Hochberg "
        "at 5%)",
        _table(_significance_table(significance)),
        f"## Spearman correlation between methods of μ (K = {n_checkpoints})",
        _table(correlations["spearman_corr_mu"]),
        f"## Spearman correlation between methods of σ (K = {n_checkpoints})",
        _table(correlations["spearman_corr_sigma"]),
        "## Noise decomposition (share of score variance)",
        _table(noise_table) + ("\n\nbetween_seed_fraction / within_run_fraction: the paper's split (ddof 0; iid noise "
                               "reads (1 − 1/S)/K between seeds); seed_component_share: the seed's variance component "
                               "(one-way random effects; 0 in expectation for iid noise)."
                               if "seed_component_share" in noise_columns else ""),
        "## Figures\n\n![Spearman](spearman_corr.png)\n\n![Pearson](pearson_corr.png)\n\n![Noise](noise_decomposition.png)",
        "All CSVs (p-value matrices per method and K under the z-test, `mean_p_values.csv`, `significance.csv` "
        "(every test), `{pearson,spearman}_corr_{mu,sigma,snr}.csv`, `noise_decomposition.csv`, `methods.csv`, "
        "`comparisons.csv`, `advice.csv`) are in this folder.",
    ]) + "\n"
    return text

