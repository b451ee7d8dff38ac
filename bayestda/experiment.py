"""Experiments, tasks and seeds: one value names every file of an experiment (`cnn_mnist3_10pc`).

No path is built by hand anywhere else: scripts and library code ask an `Experiment` for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .errors import BayesTDAError
from .paths import SEEDS_FILE, output_root

PAPER_SEEDS = (446, 724, 571, 296, 854, 968, 245, 374, 829, 470)
LAST_CHECKPOINTS = 5


@dataclass(frozen=True)
class TaskSpec:
    """A task of the paper: which dataset, which index lists, how long to train."""

    name: str
    dataset: str  # "mnist" or "cifar10": the canonical dataset the indices point into
    classes: tuple[int, ...]
    sizes: tuple[int, ...]  # available num_per_class values
    epochs: int
    channels: int
    index_folder: str  # folder under data/subset_indices
    train_list_template: str  # file name with {n} for num_per_class
    test_list: str
    train_balanced: bool  # every class has exactly num_per_class train items
    test_balanced: bool  # every class has the same number of test items

    def train_list(self, num_per_class: int) -> str:
        return self.train_list_template.format(n=num_per_class)


TASKS: dict[str, TaskSpec] = {
    "mnist3": TaskSpec(
        "mnist3", "mnist", (0, 1, 2), (10, 20, 50), 15, 1, "mnist3",
        "train_subset_{n}pc.txt", "test_subset.txt", True, True,
    ),
    # The paper's CIFAR-10 train lists hold 10*N random items (not balanced); the test list is balanced.
    "cifar10": TaskSpec(
        "cifar10", "cifar10", tuple(range(10)), (10, 20, 30, 40, 50, 60), 30, 3, "cifar10",
        "train_subset_{n}pc.txt", "test_subset.txt", False, True,
    ),
    # Appendix: 100 random MNIST train items (10 per class on average, not balanced), 10 test items.
    "mnist": TaskSpec(
        "mnist", "mnist", tuple(range(10)), (10,), 15, 1, "mnist3",
        "full_mnist_analysis_train.txt", "full_mnist_analysis_test.txt", False, False,
    ),
}

def check_task(task: str) -> TaskSpec:
    if task not in TASKS:
        raise BayesTDAError(f"unknown task {task!r}; allowed: {', '.join(TASKS)}")
    return TASKS[task]


def check_arch(arch: str) -> str:
    """A registered model name (cnn, cnn3, vit, vitmnist, vittiny, vitrandom, or a user's task), or a one-line error."""
    from .tasks import model_task

    model_task(arch)
    return arch


def check_size(task: str, num_per_class: int) -> int:
    spec = check_task(task)
    if num_per_class not in spec.sizes:
        allowed = ", ".join(map(str, spec.sizes))
        raise BayesTDAError(
            f"num_per_class {num_per_class} is not available for task {task!r}; allowed: {allowed}"
        )
    return num_per_class


def load_seeds() -> list[int]:
    """The paper's 10 seeds, in order, from random_seeds.pt."""
    return [int(s) for s in torch.load(SEEDS_FILE)]


def check_seed_id(seed_id: int) -> int:
    """The seed for --seed_id k (0-based), or a one-line error."""
    seeds = load_seeds()
    if not 0 <= seed_id < len(seeds):
        raise BayesTDAError(f"--seed_id {seed_id} is out of range; allowed: 0..{len(seeds) - 1}")
    return seeds[seed_id]


def seed_id_of(seed: int) -> int:
    """The --seed_id that names a seed (the seed itself where it is not one of the 10)."""
    seeds = load_seeds()
    return seeds.index(seed) if seed in seeds else seed


_NAME = re.compile(r"^(?P<model>[a-z0-9]+)_(?P<task>[a-z0-9]+)_(?P<n>\d+)pc$")


@dataclass(frozen=True)
class Experiment:
    """One experiment `<model>_<task>_<n>pc`: knows its epochs, checkpoints and every path."""

    model: str
    task: str
    num_per_class: int
    vit_weights: str | None = field(default=None, compare=False, repr=False)  # ViT weight source: HF id or local dir

    def __post_init__(self) -> None:
        check_arch(self.model)
        check_size(self.task, self.num_per_class)

    @classmethod
    def parse(cls, name: str, vit_weights: str | None = None) -> Experiment:
        match = _NAME.match(name)
        if not match:
            raise BayesTDAError(
                f"experiment name {name!r} is not of the form <model>_<task>_<n>pc, "
                "e.g. cnn_mnist3_10pc"
            )
        return cls(match["model"], match["task"], int(match["n"]), vit_weights=vit_weights)

    @property
    def name(self) -> str:
        return f"{self.model}_{self.task}_{self.num_per_class}pc"

    @property
    def model_task(self):
        """The model family's task (tasks.ModelTask): model, loss, data transform, training recipe, script flags."""
        from .tasks import model_task

        return model_task(self.model)

    @property
    def backbone(self) -> str | None:
        """The pretrained weight source of the model (the ViT's --vit-weights); None for the CNNs."""
        return self.model_task.backbone(self)

    @property
    def subset(self) -> str:
        return f"{self.task}_{self.num_per_class}pc"

    @property
    def spec(self) -> TaskSpec:
        return TASKS[self.task]

    @property
    def epochs(self) -> int:
        """Training epochs: the model task's recipe, by default the data task's (15 MNIST, 30 CIFAR-10)."""
        return self.model_task.epochs(self)

    @property
    def checkpoint_epochs(self) -> list[int]:
        """0-based epochs after which a checkpoint is kept: the last five."""
        return list(range(self.epochs - LAST_CHECKPOINTS, self.epochs))

    def check_checkpoint_epochs(self, epochs: list[int] | None) -> list[int]:
        if not epochs:
            return self.checkpoint_epochs
        bad = [e for e in epochs if e not in self.checkpoint_epochs]
        if bad:
            allowed = ", ".join(map(str, self.checkpoint_epochs))
            raise BayesTDAError(f"--ckpts {bad[0]} is not a checkpoint of {self.name}; allowed: {allowed}")
        return sorted(set(epochs))

    # --- paths -----------------------------------------------------------------------------------
    def model_dir(self, seed: int) -> Path:
        return output_root() / "models" / self.model / self.subset / str(seed)

    def checkpoint_path(self, seed: int, epoch: int) -> Path:
        return self.model_dir(seed) / f"ckpt_epoch_{epoch}.pth"

    def metrics_path(self, seed: int) -> Path:
        return self.model_dir(seed) / "metrics.json"

    def scores_dir(self, method: str, seed: int) -> Path:
        return output_root() / "tda_scores" / self.model / method / self.subset / str(seed)

    def scores_path(self, method: str, seed: int, epoch: int) -> Path:
        return self.scores_dir(method, seed) / f"attribution_ckpt_{epoch}.csv"

    def results_dir(self) -> Path:
        return output_root() / "results" / self.name


def experiments_for(arch: str, task: str | None, num_per_class: int | None, vit_weights: str | None = None) -> list[Experiment]:
    """Every experiment the flags select: no task = all tasks of the paper, no size = all sizes."""
    check_arch(arch)
    tasks = [task] if task else ["mnist3", "cifar10"]
    out = []
    for t in tasks:
        spec = check_task(t)
        sizes = [check_size(t, num_per_class)] if num_per_class is not None else list(spec.sizes)
        out.extend(Experiment(arch, t, n, vit_weights=vit_weights) for n in sizes)
    return out
