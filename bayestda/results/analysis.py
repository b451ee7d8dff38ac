"""The analysis of an experiment of this repository: its score files loaded and checked (present, current,
scoring the experiment's items), the posterior test run on them, every results file recorded.

`run_pvalues` and `run_correlations` are the two analysis scripts' work; `load_all` reads the score files once
for both (run_reproduce.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from .. import provenance
from ..analysis import LOO_TRUTH, ItemClasses, PosteriorScores, Roles, correlations_of, load_files, pvalues_of
from ..analysis.ensemble import ensemble_bif
from ..analysis.pvalues import keys_of_tests
from ..analysis.statistics import TESTS
from ..analysis.summary import Scope
from ..analysis.truths import from_scratch_scores
from ..attribution.registry import helpful_signs, per_seed_methods, whole_posterior_methods
from ..core.errors import CorruptOutput, MissingOutput, UnrecordedOutput
from ..data.subset_losses import SubsetLosses
from ..data.subsets import load_experiment_data, load_subset, phantom_draw
from ..experiments.commands import adopt_command, score_command
from ..numerics.evaluation import losses_of_models
from ..scores.files import missing, phantom_path
from ..training.checkpoints import load_checkpoint
from ..training.lds import TARGETS, LdsDesign, check_subsets, from_scratch_loo, lds_available, load_subset_losses
from .records import record_results

log = logging.getLogger(__name__)


# --- an experiment's score files ----------------------------------------------------------------------
def builtin_roles(methods) -> Roles:
    """The roles of this repository's own methods: the registry's helpful signs, loo_corrected as the truth, the
    whole-posterior methods (bif_ensemble) untested."""
    signs = helpful_signs()
    whole = set(whole_posterior_methods())
    return Roles({m: signs.get(m, 1) for m in methods}, LOO_TRUTH if LOO_TRUTH in methods else None,
                 untested=tuple(m for m in methods if m in whole))


def scored(methods) -> list[str]:
    """The methods with per-checkpoint score files (all but the whole-posterior ones, made in the analysis)."""
    whole = set(whole_posterior_methods())
    return [m for m in methods if m not in whole]


def check_complete(experiment, methods, seeds=None) -> None:
    """Raise one error naming every missing (method, seeds, checkpoints) and the command that makes it."""
    seeds = seeds or experiment.posterior_seeds
    absent = missing(experiment, scored(methods), seeds, experiment.checkpoint_epochs)
    if not absent:
        return
    by_method: dict[str, set] = {}
    for method, seed, _ in absent:
        by_method.setdefault(method, set()).add(seed)
    parts = []
    for method, missing_seeds in by_method.items():
        epochs = sorted({e for m, _, e in absent if m == method})
        first = sorted(missing_seeds, key=seeds.index)[0]
        parts.append(f"{method} (seeds {', '.join(map(str, sorted(missing_seeds, key=seeds.index)))}; checkpoints "
                     f"{', '.join(map(str, epochs))}; e.g. {score_command(experiment, method, first)})")
    raise MissingOutput(f"missing scores for {experiment.name}: " + "; ".join(parts))


def check_current(experiment, methods, seeds=None) -> None:
    """Refuse score files that are not current (stale: made from a checkpoint that was retrained since, or with
    other method settings; changed since written; unrecorded): one line naming them and the command."""
    seeds = seeds or experiment.posterior_seeds
    bad = []
    for method in scored(methods):
        for seed in seeds:
            for epoch in experiment.checkpoint_epochs:
                why = provenance.problem(experiment.scores_path(method, seed, epoch))
                if why is not None:
                    bad.append((method, seed, epoch, why))
    if not bad:
        return
    method, seed, epoch, why = bad[0]
    remedy = f"run: {score_command(experiment, method, seed)} --overwrite"
    if isinstance(why, UnrecordedOutput):
        remedy += f" (or record them as they are: {adopt_command(experiment)})"
    raise type(why)(f"{len(bad)} score files of {experiment.name} are not current, e.g. "
                    f"{experiment.scores_path(method, seed, epoch)}: {why}; {remedy}")


def load_posterior(experiment, method: str, seeds=None) -> PosteriorScores:
    """One method's scores of an experiment (every seed, its last five checkpoints), checked against the
    experiment's subsets: the train_idx column and the z_test_<idx> columns in subset order."""
    seeds = seeds or experiment.posterior_seeds
    check_complete(experiment, [method], seeds)
    epochs = experiment.checkpoint_epochs
    files = [[experiment.scores_path(method, seed, e) for e in epochs] for seed in seeds]
    post = load_files(method, files, seeds, epochs,
                      remake=lambda path: f"run: {score_command(experiment, method, int(path.parent.name))} --overwrite")
    train, test = load_experiment_data(experiment.task, experiment.num_per_class, experiment.subset_seed)
    train_idx = train.idx.numpy()
    test_columns = [f"z_test_{i}" for i in test.idx.tolist()]
    if len(post.train_idx) != len(train_idx) or (post.train_idx != train_idx).any() or post.test_columns != test_columns:
        raise CorruptOutput(f"{files[0][0]} scores other train or test items than the {experiment.subset} subsets "
                            f"({len(post.train_idx)} x {len(post.test_columns)}, expected {len(train_idx)} x "
                            f"{len(test_columns)} in subset order); run: "
                            f"{score_command(experiment, method, seeds[0])} --overwrite")
    return post


# --- an experiment of this repository ------------------------------------------------------------------
def load_all(experiment, methods, seeds=None) -> dict[str, PosteriorScores]:
    """Every score file of the experiment's methods and seeds, checked: present, current, readable, and scoring
    the experiment's own train and test items (one line naming what is not, and the command that remakes it)."""
    check_complete(experiment, methods, seeds)
    check_current(experiment, methods, seeds)
    per_seed = set(per_seed_methods())
    loaded = {m: as_sampled(experiment, load_posterior(experiment, m, seeds)) for m in scored(methods)}
    out = {m: post.summed_over_checkpoints() if m in per_seed else post for m, post in loaded.items()}
    whole = [m for m in methods if m not in out]
    if whole:
        losses = posterior_losses(experiment, seeds)
        out.update({m: ensemble_bif(m, *losses) for m in whole})
    return {m: out[m] for m in methods}


def load_phantom_posteriors(experiment, methods, seeds=None) -> tuple[dict[str, PosteriorScores], np.ndarray | None]:
    """({method: its phantom items' scores, arranged as the experiment's sampler arranges samples}, the phantom
    items' labels) for the methods whose phantom files are current at every seed and checkpoint; methods without
    them are left out (logged with the command that adds them)."""
    seeds = list(seeds or experiment.posterior_seeds)
    owner = experiment if experiment.draws_samples else experiment.base
    epochs = experiment.checkpoint_epochs  # a slice's (quick: its last checkpoints), in the owner's files
    out, left_out = {}, []
    for method in scored(methods):
        paths = [[phantom_path(owner, method, s, e) for e in epochs] for s in seeds]
        if not all(provenance.problem(p) is None for row in paths for p in row):
            left_out.append(method)
            continue
        post = as_sampled(experiment, load_files(method, paths, seeds, epochs, remake=lambda path, method=method: (
            f"remake them: {score_command(owner, method, int(path.parent.name))} --phantoms --overwrite")))
        out[method] = post.summed_over_checkpoints() if method in set(per_seed_methods()) else post
    if left_out:
        log.info("phantom null left out for %s of %s (no current phantom files; add them with: %s --phantoms)",
                 ", ".join(left_out), experiment.name, score_command(owner, left_out[0], seeds[0]))
    if not out:
        return {}, None
    train = load_subset(owner.task, "train", owner.num_per_class, owner.subset_seed)
    _, labels, idx = phantom_draw(owner.task, train, owner.subset_seed)
    label_of = dict(zip(idx.tolist(), labels.tolist()))
    rows = next(iter(out.values())).train_idx
    if any(int(i) not in label_of for i in rows):
        raise CorruptOutput(f"phantom files of {owner.name} score items that are not its phantom draw; remake them: "
                            f"{score_command(owner, next(iter(out)), seeds[0])} --phantoms --overwrite")
    return out, np.array([label_of[int(i)] for i in rows])


def posterior_losses(experiment, seeds=None) -> tuple:
    """Every posterior sample's per-item losses (train: the family's loss; test: its measurement), arranged as the
    experiment's sampler arranges its samples: (train [S, K, n], test [S, K, m], samples, checkpoints, train_idx,
    test_idx, test columns)."""
    seeds = list(seeds or experiment.posterior_seeds)
    owner = experiment if experiment.draws_samples else experiment.base
    family = owner.family
    train_rows, test_rows = [], []
    train = test = None
    for seed in tqdm(seeds, desc=f"{experiment.name} losses of every sample", unit="seed", leave=False):
        train_row, test_row = [], []
        for epoch in owner.checkpoint_epochs:
            net, params = load_checkpoint(owner, seed, epoch)
            if train is None:  # the family's transform of the data, once
                train, test = family.load_data(owner, net)
            train_row.append(losses_of_models(net, [params], train.x, train.y, loss=family.loss)[0].double().numpy())
            test_row.append(losses_of_models(net, [params], test.x, test.y, loss=family.measurement)[0].double().numpy())
        train_rows.append(train_row)
        test_rows.append(test_row)
    a, b = np.array(train_rows)[..., None], np.array(test_rows)[..., None]  # [S, K, items, 1]: as scores arrange
    sampler = experiment.posterior_sampler
    (a, samples, checkpoints), (b, _, _) = (sampler.arranged(x, seeds, owner.checkpoint_epochs) for x in (a, b))
    return (a[..., 0], b[..., 0], samples, checkpoints, train.idx.numpy(), test.idx.numpy(),
            [f"z_test_{i}" for i in test.idx.tolist()])


def as_sampled(experiment, post: PosteriorScores) -> PosteriorScores:
    """A method's scores as the experiment's sampler arranges its files into posterior samples (a view: `seeds`
    keeps each seed's last checkpoint, `trajectory` one seed's checkpoints; a drawing sampler's are its own)."""
    if experiment.posterior_sampler.arrange is None:
        return post
    values, samples, checkpoints = experiment.posterior_sampler.arranged(post.values, post.seeds, post.epochs)
    return PosteriorScores(post.method, values, samples, checkpoints, post.train_idx, post.test_idx, post.test_columns)


def _record(experiment, methods, seeds, names, designs=()) -> None:
    folder = experiment.analysis_dir(methods, seeds)
    record_results(experiment, methods, seeds or experiment.posterior_seeds, [folder / n for n in names if (folder / n).exists()],
                   designs)


@dataclass
class LdsLosses:
    """What an experiment's LDS columns are computed against: the random halves' and (where retrained) the
    class-stratified halves' subset losses, and the designs they come from."""

    random: SubsetLosses | None = None
    stratified: SubsetLosses | None = None
    designs: tuple[LdsDesign, ...] = ()


def lds_losses_for(experiment, seeds=None, lds_subsets: int | None = None, target: str | None = None,
                    models: int = 10) -> LdsLosses:
    """The LDS targets of an experiment. lds_subsets None: the model family's M where its files are current (else
    LDS is left out, saying which command adds it); 0: no LDS; M: required. target None: the independent target
    where current, else bayestda 0.2's paired one; a named target is required. The stratified halves join where
    their files of the same target are current."""
    if lds_subsets == 0:
        return LdsLosses()
    required = lds_subsets is not None or target is not None
    m = check_subsets(lds_subsets) if lds_subsets is not None else experiment.family.lds_subsets
    if not m:  # a family without LDS (the ViTs)
        return LdsLosses()
    candidates = [LdsDesign(m, t, "random", models) for t in ([target] if target else TARGETS)]
    design = next((d for d in candidates if lds_available(experiment, d, seeds)), None)
    if design is None:
        if required:
            load_subset_losses(experiment, candidates[0], seeds)  # raises, naming the command
        log.info("LDS left out of %s's methods table: no current subset models (add them with: %s)",
                 experiment.name, candidates[0].command(experiment))
        return LdsLosses()
    if design.target == "paired" and target is None:
        log.info("LDS of %s uses the paired target (the posterior seeds' retraining): the independent one is not "
                 "retrained (add it with: %s)", experiment.name, candidates[0].command(experiment))
    stratified = design.with_halves("stratified")
    if not lds_available(experiment, stratified, seeds):
        log.info("within-class LDS left out of %s's methods table: no current stratified subset models (add them "
                 "with: %s)", experiment.name, stratified.command(experiment))
        return LdsLosses(load_subset_losses(experiment, design, seeds), None, (design,))
    return LdsLosses(load_subset_losses(experiment, design, seeds), load_subset_losses(experiment, stratified, seeds),
                      (design, stratified))


def seconds_per_checkpoint(experiment, methods, seeds=None) -> dict[str, float]:
    """Per method, the mean wall seconds its score files took per checkpoint, as recorded when they were made."""
    out = {}
    for method in methods:
        times = [(provenance.read(experiment.scores_path(method, s, e)) or {}).get("made_with", {}).get("seconds")
                 for s in seeds or experiment.posterior_seeds for e in experiment.checkpoint_epochs]
        times = [t for t in times if t is not None]
        out[method] = sum(times) / len(times) if times else float("nan")
    return out


def experiment_classes(experiment) -> ItemClasses:
    """The labels of the experiment's train and test items, in the score files' order (subset order)."""
    train, test = load_experiment_data(experiment.task, experiment.num_per_class, experiment.subset_seed)
    return ItemClasses(train.y.numpy(), test.y.numpy())


def other_truths(experiment, seeds=None) -> dict[str, PosteriorScores]:
    """The truths beside `loo_corrected` that are retrained for this experiment: the from-scratch LOO (one row
    per posterior seed: not for a sampler whose samples are not the seeds, e.g. `trajectory`)."""
    if not experiment.family.supports_lds:
        return {}
    seeds = list(seeds or experiment.posterior_seeds)
    if experiment.posterior_sampler.arranged(np.zeros((len(seeds), 1, 1, 1)), seeds, [0])[1] != seeds:
        log.info("from-scratch LOO left out of %s: its posterior samples are not the seeds", experiment.name)
        return {}
    losses = from_scratch_loo(experiment.base, seeds)
    return {} if losses is None else {"loo_scratch": from_scratch_scores(losses, seeds)}


def scope_of(experiment) -> Scope:
    """What an experiment's numbers stand for: its train items, batch size and training subset."""
    train = load_subset(experiment.task, "train", experiment.num_per_class, experiment.subset_seed)
    draw = "the paper's draw" if not experiment.subset_seed else f"fresh draw {experiment.subset_seed}"
    sampler = experiment.posterior_sampler
    posterior = None if experiment.name == experiment.base.name else f"`{sampler.name}`, {sampler.description}" + (
        " (a slice: not the paper's numbers; `make reproduce` runs the whole)" if sampler.seeds or sampler.checkpoints
        else "")
    return Scope(len(train.y), experiment.family.recipe.batch_size, f"{experiment.subset}, {draw}", posterior)


def run_pvalues(experiment, methods=None, seeds=None, posteriors=None) -> pd.DataFrame:
    """The p-value CSVs of an experiment (posteriors: load_all's result, when the caller has it already)."""
    methods = methods or experiment.whole_analysis_methods
    posteriors = posteriors if posteriors is not None else load_all(experiment, methods, seeds)
    tested = {m: p for m, p in posteriors.items() if m in scored(methods)}
    table = pvalues_of(tested, experiment.analysis_dir(methods, seeds), experiment_classes(experiment))
    ks = max(post.num_checkpoints for post in posteriors.values())
    names = ["mean_p_values.csv", "significance.csv"] + [f"pvalues_{m}_across_{k}_ckpts.csv" for m in scored(methods)
                                                         for k in range(1, ks + 1)]
    _record(experiment, methods, seeds, names)
    return table


def run_correlations(experiment, methods=None, seeds=None, lds_subsets: int | None = None, posteriors=None,
                     lds_target: str | None = None, lds_models: int = 10) -> str:
    """Correlations, noise decomposition, their figures, methods.csv (with LDS: see lds_losses_for) and the
    summary (p-values are reused where current)."""
    methods = methods or experiment.whole_analysis_methods
    posteriors = posteriors if posteriors is not None else load_all(experiment, methods, seeds)
    folder = experiment.analysis_dir(methods, seeds)
    significance_path = folder / "significance.csv"
    reuse = provenance.is_current(significance_path) and (provenance.read(significance_path) or {}).get(
        "what", {}).get("methods") == list(methods)
    significance = pd.read_csv(significance_path) if reuse else None  # (the tested methods only)
    if significance is not None and set(keys_of_tests(significance)) != {t.key for t in TESTS}:
        significance = None  # made before every test was in it (bayestda < 0.5): recomputed
    targets = lds_losses_for(experiment.base, seeds or experiment.posterior_seeds, lds_subsets, lds_target,
                             lds_models)  # every sampler's truth
    phantoms, phantom_labels = load_phantom_posteriors(experiment, methods, seeds)
    summary = correlations_of(posteriors, folder, experiment.name, significance,
                              builtin_roles(methods), subset_losses=targets.random,
                              seconds=seconds_per_checkpoint(experiment, methods, seeds),
                              classes=experiment_classes(experiment), within_class_losses=targets.stratified,
                              scope=scope_of(experiment), other_truths=other_truths(experiment, seeds),
                              phantoms=phantoms, phantom_labels=phantom_labels).summary
    names = ["summary.md", "noise_decomposition.csv", "methods.csv", "comparisons.csv", "advice.csv", "advice.png",
             "advice.pdf", "seed_count.csv", "seed_count_summary.csv", "cost.png", "cost.pdf", "truths.csv", "nulls.csv",
             "phantoms.csv"]
    names += [f"{kind}_corr_{s}.csv" for kind in ("pearson", "spearman") for s in ("mu", "sigma", "snr")]
    _record(experiment, methods, seeds, names, targets.designs)
    return summary
