"""Studies: named sets of experiments read side by side (the paper's grid; the fragility of influence to depth,
width and weight decay, Basu et al. 2021), and the settings each experiment varies.

A study names its experiments and its methods; `run_study.py --study NAME` runs them through the launcher's stages
(training, scores, LDS, analysis) and writes `results/study_<NAME>/`. Experiments whose estimated time here
exceeds the study's budget are listed but left to a GPU or SLURM (`--include-large`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..attribution.registry import default_methods
from ..core.errors import BadInput
from ..samplers import all_samplers
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
    damping_curve: bool = False  # the damping curve of each experiment (make reproduce runs it; studies on request)

    @property
    def methods(self) -> list[str]:
        if self.only_methods is not None:
            return list(self.only_methods)
        return default_methods() + [m for m in self.extra_methods if m not in default_methods()]

    def parsed(self) -> list[Experiment]:
        return [Experiment.parse(name) for name in self.experiments]

    def under(self, sampler: str) -> Study:
        """This study with every experiment under another posterior sampler (`run_study.py --sampler`), named
        `<study>_<sampler>` (its own results folder)."""
        return replace(self, name=f"{self.name}_{sampler}",
                       experiments=tuple(replace(e, sampler=sampler).name for e in self.parsed()))


def settings_of(experiment: Experiment) -> dict:
    """The settings a study varies, read from the experiment's family and data: depth, width, weight decay,
    task, items per class."""
    family = experiment.family
    variant = family.variant() or {}
    architecture = variant.get("architecture", experiment.model)
    return {"depth": 3 if architecture == "cnn3" else 2 if architecture == "cnn" else None,
            "width": variant.get("width", 1.0), "weight_decay": family.recipe.adam.weight_decay,
            "task": experiment.task, "per_class": experiment.num_per_class, "subset_seed": experiment.subset_seed,
            "epochs": experiment.epochs, "batch_size": family.recipe.batch_size, "sampler": experiment.sampler}


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
    Study("replicate", ("cnn_mnist3_10pc", *(f"cnn_mnist3_10pc_r{r}" for r in range(1, 5)),
                        "cnn3_mnist3_10pc", *(f"cnn3_mnist3_10pc_r{r}" for r in range(1, 3))),
          ("subset_seed", "depth"),
          "cnn_mnist3_10pc on the paper's training subset and 4 fresh ones, cnn3 on the paper's and 2 fresh ones: "
          "which findings replicate over draws of the training images (results/study_replicate/replicates.csv)",
          extra_methods=("trak", "tracincp", "rps", "ekfac", "arnoldi", "random", "same_class"),
          damping_curve=True),
    Study("data-size", ("cnn_mnist3_10pc", "cnn_mnist3_20pc", "cnn-e30_mnist3_10pc", "cnn-b64_mnist3_20pc"),
          ("per_class", "epochs", "batch_size"),
          "30 vs 60 images with the optimisation matched: 30 images for 30 epochs (the optimiser steps of 60 images), "
          "60 images in one full batch of 64 (the batch regime and steps of 30 images)",
          extra_methods=("trak", "tracincp", "rps", "ekfac", "arnoldi", "random", "same_class"), damping_curve=True),
    Study("samplers", ("cnn_mnist3_10pc", *(f"cnn_mnist3_10pc_{s}" for s in ("seeds", "trajectory", "swag", "sgld",
                                                                         "laplace"))),
          ("sampler",),
          "cnn_mnist3_10pc under each posterior sampler: the paper's seeds × checkpoints, each seed's last checkpoint, "
          "one seed's trajectory, SWAG, SGLD and a last-layer Laplace (5 draws per seed); the truths are the same",
          extra_methods=("trak", "tracincp", "rps", "ekfac", "arnoldi", "bif", "bif_ensemble", "random", "same_class")),
    Study("tiny", ("cnn_mnist_10pc", "cnn-halfwidth_mnist_10pc"), ("width",),
          "two experiments on the appendix's full-MNIST task (the suite's end-to-end study: a few seeds)",
          only_methods=("gd", "random"), lds_subsets=2, lds_models=2),
)}


def get_study(name: str) -> Study:
    """A declared study, or one under another sampler (`fragility_swag`: Study.under), or one line."""
    if name in STUDIES:
        return STUDIES[name]
    base, _, sampler = name.rpartition("_")
    if base in STUDIES and sampler in all_samplers():
        return STUDIES[base].under(sampler)
    raise BadInput(f"--study {name!r}; allowed: {', '.join(STUDIES)}")
