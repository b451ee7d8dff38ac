"""Studies: named sets of experiments read side by side (the paper's grid; the fragility of influence to depth,
width and weight decay, Basu et al. 2021), and the settings each experiment varies.

A study names its experiments and its methods; `run_study.py --study NAME` runs them through the launcher's stages
(training, scores, LDS, analysis) and writes `results/study_<NAME>/`. Experiments whose estimated time here
exceeds the study's budget are listed but left to a GPU or SLURM (`--include-large`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .attribution.registry import default_methods
from .errors import BadInput
from .experiment import Experiment

STUDY_METHODS = ("ekfac", "random", "same_class")  # beside the paper's eight (default_methods): cheap here


@dataclass(frozen=True)
class Study:
    """A named set of experiments, the settings they vary (columns of the study's table) and its methods."""

    name: str
    experiments: tuple[str, ...]
    varied: tuple[str, ...]  # the settings the study's figures put on their x axes
    description: str
    extra_methods: tuple[str, ...] = STUDY_METHODS
    only_methods: tuple[str, ...] | None = None  # instead of the paper's eight and the extra ones
    budget_s: float = 2 * 3600  # experiments estimated above this, per experiment, are left to a GPU or SLURM
    lds_subsets: int = 100
    lds_models: int = 10

    @property
    def methods(self) -> list[str]:
        if self.only_methods is not None:
            return list(self.only_methods)
        return default_methods() + [m for m in self.extra_methods if m not in default_methods()]

    def parsed(self) -> list[Experiment]:
        return [Experiment.parse(name) for name in self.experiments]


def settings_of(experiment: Experiment) -> dict:
    """The settings a study varies, read from the experiment's family and data: depth, width, weight decay,
    task, items per class."""
    task = experiment.model_task
    variant = task.variant() or {}
    architecture = variant.get("architecture", experiment.model)
    return {"depth": 3 if architecture == "cnn3" else 2 if architecture == "cnn" else None,
            "width": variant.get("width", 1.0), "weight_decay": task.recipe.adam.weight_decay,
            "task": experiment.task, "per_class": experiment.num_per_class}


def _grid(models, tasks_and_sizes) -> tuple[str, ...]:
    return tuple(f"{m}_{t}_{n}pc" for t, sizes in tasks_and_sizes for n in sizes for m in models)


STUDIES = {study.name: study for study in (
    Study("fragility", ("cnn_mnist3_10pc", "cnn-wd0_mnist3_10pc", "cnn-wd10x_mnist3_10pc",
                        "cnn-halfwidth_mnist3_10pc", "cnn-doublewidth_mnist3_10pc", "cnn3_mnist3_10pc"),
          ("weight_decay", "width", "depth"),
          "cnn_mnist3_10pc with weight decay 0, 5e-3 (the paper's), 5e-2; width x0.5, x1, x2; depth 2 and 3"),
    Study("paper-mnist3", _grid(("cnn", "cnn3"), (("mnist3", (10, 20, 50)),)), ("per_class", "depth"),
          "the paper's mnist3 cells: cnn and cnn3 at 10, 20 and 50 items per class"),
    Study("paper", _grid(("cnn", "cnn3"), (("mnist3", (10, 20, 50)), ("cifar10", (10, 20, 30, 40, 50, 60)))),
          ("per_class", "depth"), "the paper's CNN grid: mnist3 and CIFAR-10 at every size, cnn and cnn3"),
    Study("tiny", ("cnn_mnist_10pc", "cnn-halfwidth_mnist_10pc"), ("width",),
          "two experiments on the appendix's full-MNIST task (the suite's end-to-end study: a few seeds)",
          only_methods=("gd", "random"), lds_subsets=2, lds_models=2),
)}


def get_study(name: str) -> Study:
    if name not in STUDIES:
        raise BadInput(f"--study {name!r}; allowed: {', '.join(STUDIES)}")
    return STUDIES[name]


# --- how long an experiment takes here, and on a GPU ------------------------------------------------
@dataclass(frozen=True)
class CellCost:
    """One cell measured here by benchmarks/bench_cell_cost.py (one process, 2 torch threads, a quiet machine):
    seconds of its parts, the study's methods sharing their gradients as in a run."""

    experiment: str
    n_train: int
    params: int
    train_seed_s: float
    retraining_per_checkpoint_s: float  # loo and loo_corrected (the n + 1 retrained models)
    other_methods_per_checkpoint_s: float  # every other study method
    lds_model_s: float  # one LDS subset model (n/2 items)


# benchmarks/cell_cost_<experiment>.json of 2026-11-30 (docs/results/cell_costs/), the study's 11 methods
MEASURED = {"mnist3": CellCost("cnn_mnist3_10pc", 30, 225_034, 1.95, 3.72, 7.18, 0.082),
            "cifar10": CellCost("cnn_cifar10_10pc", 100, 259_914, 3.52, 91.2, 34.8, 0.656)}
JOBS_PER_SEED = 10  # the launcher's jobs of one seed: training, s_test, IF and seven score jobs
JOB_START_S = 4.0  # a job's fixed cost: a Python process importing torch and bayestda, reading its inputs
ANALYSIS_S = 240.0  # p-values, correlations and intervals, one process (3-4 min in the fragility runs)
# the fragility runs' walls (2 workers, one thread each, 2026-11-30) over the sum of their measured parts: the
# workers' single threads, data loading and each job's imports; 1.6-2.1 on the five experiments
CPU_RUN_FACTOR = 1.9
# the GPU model's two assumptions (bench_cell_cost.py; benchmarks/gpu_check.sh measures the real thing)
GPU_STEP_MS = 2.0  # one optimizer step of up to a few hundred stacked small CNNs (launch-bound)
GPU_SPEEDUP = 10.0  # per-sample gradients and HVPs of a few hundred items, against 2 CPU cores


@dataclass(frozen=True)
class Estimate:
    """An experiment's wall time here (CPU, the launcher's workers) and on one GPU; a guide, not a measurement."""

    cpu_s: float
    gpu_s: float
    per_checkpoint_s: float  # every study method at one checkpoint here, one process
    measured: bool  # the experiment itself was measured (else scaled from its task's measured cell)


def estimate(experiment: Experiment, params: int, seeds: int = 10, workers: int = 2, lds_jobs: int = 20,
             lds_subsets: int = 100, base: CellCost | None = None) -> Estimate:
    """Scale the task's measured cell by train items (retraining by items squared: n models of n items) and
    parameters; add each job's start and the analysis. On a GPU the stacked trainer runs a seed's retrained models
    as one sequence of optimizer steps (GPU_STEP_MS each) and the other methods GPU_SPEEDUP times faster. `base`:
    another measured cell (benchmarks/bench_cell_cost.py), else the task's in MEASURED."""
    base = base or MEASURED.get(experiment.task, MEASURED["mnist3"])
    items = experiment.num_per_class * len(experiment.spec.classes) / base.n_train
    size = params / base.params
    checkpoints = len(experiment.checkpoint_epochs)
    retraining = base.retraining_per_checkpoint_s * items**2 * size
    others = base.other_methods_per_checkpoint_s * items * size
    lds = lds_jobs * lds_subsets * base.lds_model_s * items * size if experiment.model_task.supports_lds else 0.0
    compute = seeds * (base.train_seed_s * items * size + checkpoints * (retraining + others)) + lds
    jobs = seeds * JOBS_PER_SEED + lds_jobs + 1
    cpu = CPU_RUN_FACTOR * (compute + jobs * JOB_START_S) / workers + ANALYSIS_S
    steps = experiment.epochs * -(-experiment.num_per_class * len(experiment.spec.classes)
                                  // experiment.model_task.recipe.batch_size)
    sequences = seeds * (1 + checkpoints) + (lds_jobs if experiment.model_task.supports_lds else 0)
    gpu = sequences * steps * GPU_STEP_MS / 1e3 + seeds * checkpoints * others / GPU_SPEEDUP + jobs * JOB_START_S \
        + ANALYSIS_S
    return Estimate(cpu, gpu, retraining + others, base.experiment == experiment.name)
