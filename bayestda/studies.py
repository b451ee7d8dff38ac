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


# --- how long an experiment takes here ------------------------------------------------------------
# Measured on cnn_mnist3_10pc (30 train items, 225,034 parameters), two processes sharing the 2 cores (the
# fresh-clone make reproduce of 46b1310, seconds per checkpoint as recorded): the LOO retraining 6.2 s per
# checkpoint (it grows with n_train squared: n models of n items), the other study methods together 9.7 s (they
# grow with n_train), one LDS job (100 halves under one seed) 32 s, training 1 s per seed, the analysis 100 s.
BASE_ITEMS, BASE_PARAMS = 30, 225_034
LOO_S, OTHER_S, LDS_JOB_S, TRAIN_S, ANALYSIS_S = 6.2, 9.7, 32.0, 1.0, 100.0


def estimate_seconds(experiment: Experiment, params: int, seeds: int = 10, workers: int = 2,
                     lds_jobs: int = 20) -> float:
    """A rough wall-time estimate of an experiment's jobs here (CPU, `workers` processes): the measured base
    scaled by its train items and parameter count; what `--dry-run` prints, never a measurement."""
    items = experiment.num_per_class * len(experiment.spec.classes) / BASE_ITEMS
    size = params / BASE_PARAMS
    checkpoints = len(experiment.checkpoint_epochs)
    scores = seeds * checkpoints * (LOO_S * items**2 + OTHER_S * items) * size
    lds = lds_jobs * LDS_JOB_S * items * size if experiment.model_task.supports_lds else 0.0
    training = seeds * TRAIN_S * items * size * experiment.epochs / 15
    return (scores + lds + training) / workers + ANALYSIS_S
