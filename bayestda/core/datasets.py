"""The paper's data tasks (mnist3, cifar10, the appendix's mnist): which dataset, which index lists, how long to
train, which train sizes exist."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BadInput


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
        raise BadInput(f"unknown task {task!r}; allowed: {', '.join(TASKS)}")
    return TASKS[task]


def check_size(task: str, num_per_class: int) -> int:
    spec = check_task(task)
    if num_per_class not in spec.sizes:
        allowed = ", ".join(map(str, spec.sizes))
        raise BadInput(
            f"num_per_class {num_per_class} is not available for task {task!r}; allowed: {allowed}"
        )
    return num_per_class


def check_subset_seed(subset_seed) -> int:
    """A training-subset seed: 0 is the paper's subset, R >= 1 a fresh draw; anything else is one line."""
    if isinstance(subset_seed, bool) or not isinstance(subset_seed, int) or subset_seed < 0:
        raise BadInput(f"--subset-seed {subset_seed!r}: must be an integer >= 0 (0: the paper's subset, the default; "
                       "R >= 1: a fresh class-balanced draw, e.g. --subset-seed 1)")
    return subset_seed
