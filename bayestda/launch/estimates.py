"""How long an experiment takes here (CPU, the launcher's workers) and on one GPU: a measured cell of its task,
scaled, plus each job of its plan (`stages.plan`). A guide, not a measurement."""

from __future__ import annotations

from dataclasses import dataclass

from ..experiments.experiment import Experiment
from .stages import Request, experiment_plan


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


# benchmarks/cell_cost_<experiment>.json (docs/results/cell_costs/), the study's 11 methods: mnist3 of 2026-12-02
# (LDS version 2's evaluator: 0.082 -> 0.050 s a model), cifar10 of 2026-11-30
MEASURED = {"mnist3": CellCost("cnn_mnist3_10pc", 30, 225_034, 2.85, 2.79, 7.01, 0.050),
            "cifar10": CellCost("cnn_cifar10_10pc", 100, 259_914, 3.52, 91.2, 34.8, 0.656)}
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


def estimate(experiment: Experiment, params: int, request: Request | None = None, workers: int = 2,
             base: CellCost | None = None) -> Estimate:
    """Scale the task's measured cell by train items (retraining by items squared: n models of n items) and
    parameters; add each job's start (the jobs counted in the request's plan: default, the experiment's whole
    analysis) and the analysis. On a GPU the stacked trainer runs a seed's retrained models as one sequence of
    optimizer steps (GPU_STEP_MS each) and the other methods GPU_SPEEDUP times faster. `base`: another measured
    cell (benchmarks/bench_cell_cost.py), else the task's in MEASURED."""
    request = request or Request((experiment,))
    if experiment.name != experiment.base.name and not experiment.draws_samples:  # a view: the paper's files
        return Estimate(ANALYSIS_S, ANALYSIS_S, 0.0, False)
    jobs_of = experiment_plan(experiment, request)
    seeds = sum(j.stage == "train" for j in jobs_of)
    lds_jobs = sum(j.stage == "lds" for j in jobs_of)  # one per design and target seed
    base = base or MEASURED.get(experiment.task, MEASURED["mnist3"])
    items = experiment.num_per_class * len(experiment.spec.classes) / base.n_train
    size = params / base.params
    longer = experiment.epochs / Experiment.parse(base.experiment).epochs  # every training run scales with its epochs
    checkpoints = len(experiment.checkpoint_epochs)
    retraining = base.retraining_per_checkpoint_s * items**2 * size * longer
    others = base.other_methods_per_checkpoint_s * items * size
    n_train = experiment.num_per_class * len(experiment.spec.classes)
    lds_models = sum(len(d.seeds(request.seeds)) * d.half_models(n_train) for d in request.lds_designs(experiment))
    lds = lds_models * base.lds_model_s * items * size * longer if experiment.family.supports_lds else 0.0
    if experiment.draws_samples:  # its seeds are trained and its truths retrained by the paper's experiment
        lds, training = 0.0, 0.0
    else:
        training = base.train_seed_s * items * size * longer
    compute = seeds * (training + checkpoints * (retraining + others)) + lds
    jobs = len(jobs_of)
    cpu = CPU_RUN_FACTOR * (compute + jobs * JOB_START_S) / workers + ANALYSIS_S
    steps = experiment.epochs * -(-experiment.num_per_class * len(experiment.spec.classes)
                                  // experiment.family.recipe.batch_size)
    sequences = seeds * (1 + checkpoints) + (lds_jobs if experiment.family.supports_lds else 0)
    gpu = sequences * steps * GPU_STEP_MS / 1e3 + seeds * checkpoints * others / GPU_SPEEDUP + jobs * JOB_START_S \
        + ANALYSIS_S
    return Estimate(cpu, gpu, retraining + others, base.experiment == experiment.name)
