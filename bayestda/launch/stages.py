"""The stage graph: every stage of an experiment, declared once, and the plan of jobs built from it.

    train -> [sample] -> inverse_hvp (s_test) -> if;   train -> [sample] -> scores (loo, ats, gd_and_gc, ...);
    lds (the LDS retraining: one job per halves and target seed);   all -> analysis;   all -> damping

A stage says what it needs, the kinds of output it writes (their records are declared by the producers), its jobs
for an experiment (command lines from `experiments.commands`, the files that mean each is done) and the call that
makes all of them in this process. The launcher (local and SLURM) runs the jobs; `run_reproduce.py` runs the
stages in one process (`run_here`); both read the same plan, so `make reproduce` and `run_all.py` run the same
stages, and every "done" is the plan's jobs' (their files current: `provenance`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from tqdm import tqdm

from .. import provenance
from ..analysis import LOO_TRUTH  # the damping curve's truth: without its scores there is no curve
from ..attribution.registry import get, in_registry_order, script_methods, script_path
from ..core.errors import BadInput, MissingOutput
from ..core.parallel import default_workers, process_map
from ..core.seeds import load_seeds, seed_id_of
from ..data.subsets import generate_subsets, subset_path
from ..experiments.commands import analysis_argvs, damping_argv, lds_argv, seed_flags, training_argv
from ..experiments.experiment import TASKS, Experiment
from ..experiments.studies import Study
from ..results.analysis import load_all, run_correlations, run_pvalues
from ..results.damping import DAMPING_RESULTS_KIND, DAMPING_SCORES_KIND, default_curve_epochs, run_damping_curve, score_checkpoint
from ..results.records import RESULTS_KIND
from ..results.study import STUDY_RESULTS_KIND
from ..scores.files import PHANTOM_KIND, RESIDUALS_KIND, SCORES_KIND, phantom_path
from ..scores.pipeline import INVERSE_HVP_KIND, inverse_hvp_path, run_scores
from ..training.checkpoints import CHECKPOINT_KIND, METRICS_KIND
from ..training.lds import HALVES, LDS_KIND, LdsDesign, retrain
from ..training.loops import train_seed
from ..training.sampling import sample_seed
from ..training.seed_run import seed_outputs
from .jobs import Job

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Request:
    """What a run asks for, for every experiment: its methods, seeds, LDS retraining, analysis and damping curve.
    The defaults are an experiment's whole analysis (what `make reproduce` runs)."""

    experiments: tuple[Experiment, ...]
    methods: tuple[str, ...] | None = None  # None: the default methods and the family's own (reproduce_methods)
    seed_ids: tuple[int, ...] | None = None  # None: all 10
    lds_subsets: int | None = None  # None: the family's M (100 for the CNNs, 0 for the ViTs); 0: no LDS
    lds_target: str = "independent"
    lds_models: int = 10
    analysis: bool = True
    damping: bool = True  # where the family has a damping curve, all seeds are run and the LOO truth is scored
    phantoms: bool = True  # every method also scores the phantom items (the analysis' false-trust null)

    def __post_init__(self) -> None:
        for k in self.seed_ids or ():
            if not 0 <= k < len(load_seeds()):
                raise BadInput(f"seed id {k} is out of range; allowed: 0..{len(load_seeds()) - 1}")

    @classmethod
    def for_study(cls, study: Study, experiments, seed_ids=None) -> Request:
        """A study's experiments with its methods, LDS retraining and (where it asks) damping curve."""
        return cls(tuple(experiments), tuple(study.methods), None if seed_ids is None else tuple(seed_ids),
                   study.lds_subsets, "independent", study.lds_models, damping=study.damping_curve)

    def methods_for(self, experiment: Experiment) -> list[str]:
        return list(self.methods) if self.methods is not None else experiment.whole_analysis_methods

    @property
    def all_seed_ids(self) -> list[int]:
        return list(range(len(load_seeds()))) if self.seed_ids is None else list(self.seed_ids)

    @property
    def seeds(self) -> list[int]:
        return [load_seeds()[k] for k in self.all_seed_ids]

    @property
    def seed_subset(self) -> list[int] | None:
        """The seeds where some were chosen, None for all 10 (what the analysis and its folder take)."""
        return None if self.seed_ids is None else self.seeds

    def seeds_for(self, experiment: Experiment) -> list[int]:
        """The request's seeds that are in the experiment's posterior (a slice such as `quick` has its first 3)."""
        return [s for s in self.seeds if s in experiment.posterior_seeds]

    def seed_ids_for(self, experiment: Experiment) -> list[int]:
        return [seed_id_of(s) for s in self.seeds_for(experiment)]

    def seed_subset_for(self, experiment: Experiment) -> list[int] | None:
        """The experiment's seeds where they are not its whole posterior, else None (its whole analysis)."""
        seeds = self.seeds_for(experiment)
        return None if seeds == experiment.posterior_seeds else seeds

    def lds_for(self, experiment: Experiment) -> int:
        """M of the experiment's LDS retraining (0: none; families the retraining does not apply to get none)."""
        if not experiment.family.supports_lds:
            return 0
        return experiment.family.lds_subsets if self.lds_subsets is None else self.lds_subsets

    def lds_designs(self, experiment: Experiment) -> list[LdsDesign]:
        m = self.lds_for(experiment)
        if not m:
            return []
        return [*(LdsDesign(m, self.lds_target, halves, self.lds_models) for halves in HALVES), LdsDesign.leave_one_out()]

    def analyses(self, experiment: Experiment) -> bool:
        return self.analysis and bool(self.methods_for(experiment)) and len(self.seeds_for(experiment)) >= 2

    def damping_for(self, experiment: Experiment) -> bool:
        return (self.damping and experiment.family.damping_curve and self.seed_ids is None
                and LOO_TRUTH in self.methods_for(experiment) and experiment.name == experiment.base.name)


@dataclass(frozen=True)
class RunOptions:
    """How the stages run in this process: the device and how many processes share the work."""

    device: str = "cpu"
    jobs: int | None = None  # None: default_workers(device)

    @property
    def workers(self) -> int:
        return self.jobs or default_workers(self.device)


@dataclass(frozen=True)
class ScriptCall:
    """One per-seed script call of the plan, derived from the method registry: what it writes and when it runs."""

    name: str  # the job's last name part: the script (gd_and_gc, s_test, loo--from-pretrained) or the method
    script: str  # registry script name
    extra: tuple[str, ...]  # flags after the experiment flags
    methods: tuple[str, ...]  # the methods whose score files it writes (none for s_test)
    stage: str
    stored_inverse: tuple[str, ...] = ()  # s_test: the methods whose vectors it stores


def script_calls(methods: Iterable[str]) -> list[ScriptCall]:
    """The per-seed script calls that produce the methods, in registry order (an inverse-HVP script's s_test first).

    A named script writes every method declared with it (gd_and_gc writes gd and gc); methods on the generic
    script `all` get one call each, with --methods.
    """
    calls: dict[str, ScriptCall] = {}
    requested = {m if isinstance(m, str) else m.name for m in methods}
    for method in in_registry_order(methods):
        if method.whole_posterior:  # made in the analysis from the samples' losses: no per-seed script
            continue
        if method.script == "all":
            calls[method.name] = ScriptCall(method.name, "all", ("--methods", method.name), (method.name,), "scores")
            continue
        name = "".join([method.script, *method.script_flags])
        if name in calls:
            continue
        # the requested ones of the methods its script writes (a job is done when they are)
        produced = tuple(m for m in script_methods(method.script, method.script_flags) if m in requested)
        if method.inverse_hvp is not None:
            calls["s_test"] = ScriptCall("s_test", "s_test", (), (), "inverse_hvp", produced)
            calls[name] = ScriptCall(name, method.script, method.script_flags, produced, "if")
        else:
            calls[name] = ScriptCall(name, method.script, method.script_flags, produced, "scores")
    return list(calls.values())


# --- the stages' jobs for one experiment --------------------------------------------------------------------------
def files_owner(experiment: Experiment) -> Experiment:
    """The experiment whose checkpoints and score files an experiment reads: its own for a drawing sampler, else
    the paper's sampler's (a view such as `seeds` rearranges those files; the job names are theirs too, so that
    a plan holding both runs each job once)."""
    return experiment if experiment.draws_samples else experiment.base


def posterior_job(experiment: Experiment, seed: int) -> str:
    """The job whose outputs are a seed's posterior samples: its drawing, or the paper's training."""
    stage = "sample" if experiment.draws_samples else "train"
    return f"{files_owner(experiment).name}/{seed}/{stage}"


def _train_jobs(experiment: Experiment, request: Request) -> list[Job]:
    base = experiment.base
    return [Job(f"{base.name}/{seed}/train", "train", (tuple(training_argv(base, seed)),),
                tuple(seed_outputs(base, seed)), gpu=base.family.gpu_training)
            for seed in request.seeds_for(experiment)]


def _sample_jobs(experiment: Experiment, request: Request) -> list[Job]:
    if not experiment.draws_samples:
        return []
    return [Job(f"{experiment.name}/{seed}/sample", "sample", (tuple(training_argv(experiment, seed)),),
                tuple(seed_outputs(experiment, seed)), (f"{experiment.base.name}/{seed}/train",))
            for seed in request.seeds_for(experiment)]


def _script_jobs(stage: str) -> Callable[[Experiment, Request], list[Job]]:
    """The per-seed score scripts of one stage (inverse_hvp, if or scores)."""

    def jobs(experiment: Experiment, request: Request) -> list[Job]:
        calls = [c for c in script_calls(request.methods_for(experiment)) if c.stage == stage]
        owner = files_owner(experiment)
        epochs = experiment.checkpoint_epochs  # a slice's: its last checkpoints only
        only = ("--ckpts", *map(str, epochs)) if epochs != owner.checkpoint_epochs else ()
        out = []
        for seed in request.seeds_for(experiment):
            prefix = f"{owner.name}/{seed}"
            posterior = posterior_job(experiment, seed)
            for call in calls:
                argv = (script_path(owner.family.scripts, call.script), *seed_flags(owner, seed), *only, *call.extra)
                if call.stored_inverse:  # the vectors are an intermediate: once their scores are current, done
                    outputs = tuple(inverse_hvp_path(owner, m, seed, e) for m in call.stored_inverse for e in epochs)
                    scored = tuple(owner.scores_path(m, seed, e) for m in call.stored_inverse for e in epochs)
                    out.append(Job(f"{prefix}/{call.name}", stage, (argv,), outputs, (posterior,), gpu=True,
                                   done_instead=scored))
                    continue
                needs = (posterior, f"{prefix}/s_test") if stage == "if" else (posterior,)
                outputs = tuple(owner.scores_path(m, seed, e) for m in call.methods for e in epochs)
                phantoms = [m for m in call.methods if get(m).phantoms] if request.phantoms else []
                if phantoms:
                    argv = (*argv, "--phantoms")
                    outputs += tuple(phantom_path(owner, m, seed, e) for m in phantoms for e in epochs)
                out.append(Job(f"{prefix}/{call.name}", stage, (argv,), outputs, needs, gpu=True))
        return out

    return jobs


def _lds_jobs(experiment: Experiment, request: Request) -> list[Job]:
    """One job per halves (random, stratified) and target seed (independent: the k-th of R; paired: seed id k); a
    sampler's experiment shares the paper's (the truth does not depend on how the posterior is sampled)."""
    posterior = request.seeds_for(experiment)  # a slice's (quick: 3 seeds), before its files' experiment is taken
    experiment = experiment.base
    out = []
    for design in request.lds_designs(experiment):
        for k, seed in enumerate(design.seeds(posterior)):
            index = seed_id_of(seed) if design.target == "paired" else k
            argv = lds_argv(experiment, design.subsets, design.target, design.halves, design.models, index, jobs=1)
            out.append(Job(f"{experiment.name}/lds/{design.halves}/{index}", "lds", (tuple(argv),),
                           (design.path(experiment, seed),)))
    return out


def _analysis_jobs(experiment: Experiment, request: Request) -> list[Job]:
    if not request.analyses(experiment):
        return []
    m = request.lds_for(experiment)
    lds = (m, request.lds_target, request.lds_models) if m else None
    argvs = analysis_argvs(experiment, request.methods_for(experiment), request.seed_ids_for(experiment), lds)
    folder = experiment.analysis_dir(request.methods_for(experiment), request.seed_subset_for(experiment))
    return [Job(f"{experiment.name}/analysis", "analysis", tuple(map(tuple, argvs)),
                (folder / "mean_p_values.csv", folder / "summary.md"))]


def _damping_jobs(experiment: Experiment, request: Request) -> list[Job]:
    if not request.damping_for(experiment):
        return []
    return [Job(f"{experiment.name}/damping", "damping", (tuple(damping_argv(experiment)),),
                (experiment.results_dir() / "damping.csv",))]


# --- the stages run in this process (run_reproduce.py) ---------------------------------------------------------------
def _train_here(experiment: Experiment, request: Request, options: RunOptions) -> None:
    seeds, base = request.seeds_for(experiment), experiment.base
    with tqdm(total=len(seeds) * base.epochs, desc=f"{base.name} training", unit="epoch") as bar:
        for seed in seeds:
            train_seed(base, seed, device=options.device, progress=bar)


def _sample_here(experiment: Experiment, request: Request, options: RunOptions) -> None:
    for seed in tqdm(request.seeds_for(experiment), desc=f"{experiment.name} samples", unit="seed"):
        sample_seed(experiment, seed, device=options.device)


def _score_one_seed(job: tuple[Experiment, int, list[str], str, bool, list[int], list[int], bool]) -> int:
    """One seed's scores (module level, so that it can be sent to a spawned process with its Experiment); at the
    checkpoints in `curve_epochs` the damping curve's file too, from the same context (its curvatures reused); the
    phantom items' scores where asked."""
    experiment, seed, methods, device, progress, epochs, curve_epochs, phantoms = job

    def damping_curve(ctx, epoch: int) -> None:
        if epoch in curve_epochs:
            score_checkpoint(experiment, seed, epoch, device=device, ctx=ctx)

    run_scores(experiment, seed, methods, epochs, device=device, show_progress=progress, after_checkpoint=damping_curve,
               phantoms=phantoms)
    return seed


def _scores_here(experiment: Experiment, request: Request, options: RunOptions) -> None:
    """Every seed's scores of every method, the inverse-HVP methods' included; on a CPU `jobs` processes with one
    thread each (faster than threads: docs/speed.md). Where the plan has the damping curve, each seed's job writes
    its curve file at the curve's checkpoint from the scores' context (the damping stage then makes the table)."""
    jobs = options.workers
    owner = files_owner(experiment)
    methods = [m for m in request.methods_for(experiment) if not get(m).whole_posterior]  # made in the analysis
    curve_epochs = default_curve_epochs(owner) if request.damping_for(experiment) else []
    work = [(owner, seed, methods, options.device, jobs <= 1, experiment.checkpoint_epochs, curve_epochs,
             request.phantoms) for seed in request.seeds_for(experiment)]
    process_map(_score_one_seed, work, jobs, f"{owner.name} TDA scores")


def _lds_here(experiment: Experiment, request: Request, options: RunOptions) -> None:
    base = experiment.base
    designs = request.lds_designs(base)
    paired = [d for d in designs if d.target == "paired"]  # retrained under the posterior's seeds: the request's
    if paired:
        retrain(base, paired, request.seeds_for(experiment), device=options.device, jobs=options.workers)
    others = [d for d in designs if d.target != "paired"]
    if others:
        retrain(base, others, device=options.device, jobs=options.workers)


def _analysis_here(experiment: Experiment, request: Request, options: RunOptions) -> None:
    methods = request.methods_for(experiment)
    seeds = request.seed_subset_for(experiment)
    m = request.lds_for(experiment)
    posteriors = load_all(experiment, methods, seeds)  # read once for both analysis steps
    run_pvalues(experiment, methods, seeds, posteriors=posteriors)
    run_correlations(experiment, methods, seeds, lds_subsets=m, posteriors=posteriors,
                     lds_target=request.lds_target if m else None, lds_models=request.lds_models)


def _damping_here(experiment: Experiment, request: Request, options: RunOptions) -> None:
    run_damping_curve(experiment, device=options.device, jobs=options.workers)


@dataclass(frozen=True)
class Stage:
    """One stage: what it needs, the kinds of output it writes, its jobs for an experiment, and how it runs here
    (`here`; None where another stage's run makes its outputs in this process: `here_with`)."""

    name: str
    needs: tuple[str, ...]
    kinds: tuple[provenance.Kind, ...]
    jobs: Callable[[Experiment, Request], list[Job]]
    here: Callable[[Experiment, Request, RunOptions], None] | None
    here_with: str | None = None
    description: str = ""  # what its outputs are, for a reader of the graph


STAGES: tuple[Stage, ...] = (
    Stage("train", (), (CHECKPOINT_KIND, METRICS_KIND), _train_jobs, _train_here,
          description="the ensemble: every seed's last five checkpoints and metrics"),
    Stage("sample", ("train",), (CHECKPOINT_KIND, METRICS_KIND), _sample_jobs, _sample_here,
          description="a drawing sampler's samples (swag, sgld, laplace): 5 per seed, from its trained checkpoints"),
    Stage("inverse_hvp", ("train", "sample"), (INVERSE_HVP_KIND,), _script_jobs("inverse_hvp"), None, "scores",
          description="the paper's first IF stage (s_test): inverse-HVP vectors, an intermediate"),
    Stage("if", ("train", "sample", "inverse_hvp"), (SCORES_KIND, PHANTOM_KIND), _script_jobs("if"), None, "scores",
          description="the influence scores from the stored vectors"),
    Stage("scores", ("train", "sample"), (SCORES_KIND, RESIDUALS_KIND, PHANTOM_KIND), _script_jobs("scores"),
          _scores_here, description="every other method's score files (in this process: every method's, sharing "
          "gradients), and the phantom items' scores"),
    Stage("lds", (), (LDS_KIND,), _lds_jobs, _lds_here,
          description="the LDS retraining: M random and M class-stratified halves under the target's seeds"),
    Stage("analysis", ("train", "sample", "if", "scores", "lds"), (RESULTS_KIND,), _analysis_jobs, _analysis_here,
          description="p-values, correlations, methods.csv and summary.md"),
    Stage("damping", ("train", "if", "scores", "lds"), (DAMPING_SCORES_KIND, DAMPING_RESULTS_KIND), _damping_jobs,
          _damping_here, description="the damping curve of the damped influence methods"),
)
STAGE_NAMES = tuple(stage.name for stage in STAGES)
# every kind of output: the stages' and a study's table (run_study.py: a stage over experiments)
KINDS = {kind.name: kind for kind in (*(k for s in STAGES for k in s.kinds), STUDY_RESULTS_KIND)}


def experiment_plan(experiment: Experiment, request: Request) -> list[Job]:
    """Every job of one experiment, in stage order, each needing the jobs of the stages it needs (a seed's jobs
    need that seed's training; the analysis and the damping curve need every job before them)."""
    jobs: list[Job] = []
    for current in STAGES:
        made = current.jobs(experiment, request)
        if current.name in ("analysis", "damping"):
            needed = tuple(j.name for j in jobs if j.stage in current.needs)
            made = [replace(j, needs=needed) for j in made]
        jobs += made
    return jobs


def plan(request: Request) -> list[Job]:
    """Every job of the request, in stage order, each once (experiments that share files share their jobs: a
    sampler's experiment and the paper's train the same seeds and retrain the same LDS models)."""
    jobs = [job for experiment in request.experiments for job in experiment_plan(experiment, request)]
    unique: dict[str, Job] = {}
    for job in jobs:
        unique.setdefault(job.name, job)
    return sorted(unique.values(), key=lambda j: STAGE_NAMES.index(j.stage))


def run_here(request: Request, options: RunOptions = RunOptions()) -> dict[str, float]:
    """Run the plan's stages in this process, experiment by experiment; a stage whose jobs are all done is skipped.
    Returns the seconds of each stage run; refuses to end with a job of the plan not done."""
    ensure_subsets(list(request.experiments))
    times: dict[str, float] = {}
    for experiment in request.experiments:
        jobs = experiment_plan(experiment, request)
        for current in STAGES:
            if current.here is None:
                continue
            covered = {current.name} | {s.name for s in STAGES if s.here_with == current.name}
            pending = [j for j in jobs if j.stage in covered and not j.is_done()]
            if not pending:
                continue
            start = time.perf_counter()
            current.here(experiment, request, options)
            times[current.name] = times.get(current.name, 0.0) + time.perf_counter() - start
        left = [j for j in jobs if not j.is_done()]
        if left:
            raise MissingOutput(f"{experiment.name}: {len(left)} jobs of the plan are not done after their stages ran, "
                                f"e.g. {left[0].name} (missing or stale: {left[0].missing()[0]})")
    return times


def grid_experiments(names: list[str] | None, all_experiments: bool, vit_weights: str | None = None) -> list[Experiment]:
    """Experiments from --experiments (comma-separated names) or --all (both families, both tasks, all sizes)."""
    if all_experiments:
        models = ["cnn", "vit"]
        return [Experiment(m, t, n, vit_weights=vit_weights) for m in models for t in ("mnist3", "cifar10") for n in TASKS[t].sizes]
    if not names:
        raise BadInput("no experiments given; use --experiments cnn_mnist3_10pc[,...] or --all")
    return [Experiment.parse(name, vit_weights=vit_weights) for name in names]


def ensure_subsets(experiments: list[Experiment]) -> None:
    """Generate the data subsets the experiments need (the paper's, or fresh draws), where missing (seconds; before
    any job)."""
    for task, r in sorted({(e.task, e.subset_seed) for e in experiments}):
        sizes = sorted({e.num_per_class for e in experiments if e.task == task and e.subset_seed == r})
        if any(not subset_path(task, "train", n, r).exists() for n in sizes) or \
                not subset_path(task, "test", subset_seed=r).exists():
            generate_subsets(task, sizes, subset_seed=r)


def describe(jobs: list[Job]) -> str:
    """The plan: jobs per stage, how many are done, and the first few commands still to run."""
    lines = [f"{'stage':<12} {'jobs':>6} {'done':>6} {'to run':>7}"]
    for name in STAGE_NAMES:
        of_stage = [j for j in jobs if j.stage == name]
        if of_stage:
            done = sum(j.is_done() for j in of_stage)
            lines.append(f"{name:<12} {len(of_stage):>6} {done:>6} {len(of_stage) - done:>7}")
    todo = [j for j in jobs if not j.is_done()]
    lines.append(f"{'all':<12} {len(jobs):>6} {len(jobs) - len(todo):>6} {len(todo):>7}")
    for job in todo[:10]:
        lines.append(f"  {job.name}: " + " && ".join(" ".join(c) for c in job.commands))
    if len(todo) > 10:
        lines.append(f"  ... and {len(todo) - 10} more")
    return "\n".join(lines)
