"""Data: the paper's index lists, pixel sources, one selection code, transforms and subset files.

Every item carries its canonical dataset index, `(x, y, idx)`, and item order is the order of the
paper's index list: it fixes the row and column order of every score matrix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..core.datasets import TASKS, TaskSpec, check_size, check_subset_seed, check_task
from ..core.errors import BadInput, BayesTDAError, CorruptOutput, MissingOutput
from ..core.paths import DATA_DIR, subset_dir
from ..core.tensor_io import save_torch

log = logging.getLogger(__name__)

SOURCES = ("shipped", "mnist-full", "torchvision")
CIFAR_MEAN = (0.5, 0.5, 0.5)
CIFAR_STD = (0.5, 0.5, 0.5)


# --- index lists ----------------------------------------------------------------------------------
def index_list_path(spec: TaskSpec, split: str, num_per_class: int | None = None) -> Path:
    name = spec.train_list(num_per_class) if split == "train" else spec.test_list
    return DATA_DIR / "subset_indices" / spec.index_folder / name


def read_index_list(task: str, split: str, num_per_class: int | None = None) -> np.ndarray:
    """The paper's canonical indices for a split, in file order."""
    path = index_list_path(check_task(task), split, num_per_class)
    if not path.exists():
        raise MissingOutput(f"missing index list {path}; restore data/ from the repository (git checkout data)")
    return np.loadtxt(path, dtype=np.int64, ndmin=1)


# --- pixel pools ----------------------------------------------------------------------------------
@dataclass
class Pool:
    """Images of a dataset split addressable by canonical index (uint8, HW or HWC)."""

    indices: np.ndarray
    images: np.ndarray
    labels: np.ndarray


def _shipped_pool(dataset: str, split: str) -> Pool:
    files = {
        ("mnist", "train"): "mnist3/mnist_train_subset.npz",
        ("mnist", "test"): "mnist3/mnist_test_subset.npz",
        ("cifar10", "train"): "cifar10/cifar10_train_subset.npz",
        ("cifar10", "test"): "cifar10/cifar10_test_subset.npz",
    }
    path = DATA_DIR / files[(dataset, split)]
    if not path.exists():
        raise MissingOutput(f"missing data file {path}; restore data/ from the repository (git checkout data)")
    with np.load(path) as f:
        return Pool(f["indices"], f["images"], f["labels"])


def _mnist_full_pool(dataset: str, split: str) -> Pool:
    if dataset != "mnist":
        raise BadInput(f"--source mnist-full holds MNIST only, not {dataset!r}; allowed sources for it: shipped, torchvision")
    path = DATA_DIR / "mnist" / "mnist_full.npz"
    if not path.exists():
        raise MissingOutput(f"missing data file {path}; restore data/ from the repository (git checkout data)")
    with np.load(path) as f:
        images, labels = f[f"{split}_images"], f[f"{split}_labels"]
    return Pool(np.arange(len(labels)), images, labels)


def _torchvision_pool(dataset: str, split: str, data_root: Path) -> Pool:
    try:
        import torchvision  # noqa: F401, PLC0415  (optional: only for downloading the full datasets)
        from torchvision.datasets import CIFAR10, MNIST  # noqa: PLC0415
    except Exception as error:  # torchvision may be missing or fail to import against this torch
        raise BayesTDAError(
            f"--source torchvision needs an importable torchvision ({type(error).__name__}: {error}); "
            "allowed sources here: shipped, mnist-full"
        ) from error
    cls = MNIST if dataset == "mnist" else CIFAR10
    ds = cls(root=str(data_root), train=split == "train", download=True)
    images = np.asarray(ds.data)
    labels = np.asarray(ds.targets, dtype=np.int64)
    return Pool(np.arange(len(labels)), images, labels)


def load_pool(dataset: str, split: str, source: str = "shipped", data_root: Path | None = None) -> Pool:
    """Pixels of one dataset split from a source: the shipped arrays, the full MNIST, or a download."""
    if source == "shipped":
        return _shipped_pool(dataset, split)
    if source == "mnist-full":
        return _mnist_full_pool(dataset, split)
    if source == "torchvision":
        return _torchvision_pool(dataset, split, Path(data_root or DATA_DIR / "downloads"))
    raise BadInput(f"unknown source {source!r}; allowed: {', '.join(SOURCES)}")


def select(pool: Pool, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of the wanted canonical indices, in the wanted order (one code for all sources)."""
    position = {int(i): p for p, i in enumerate(pool.indices)}
    missing = [int(i) for i in wanted if int(i) not in position]
    if missing:
        raise BadInput(f"index {missing[0]} is not in the data source ({len(missing)} missing)")
    rows = np.array([position[int(i)] for i in wanted], dtype=np.int64)
    return pool.images[rows], pool.labels[rows]


# --- transforms (torchvision's ToTensor / Normalize, written with torch) ---------------------------
def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [N,H,W] or [N,H,W,C] -> float32 [N,C,H,W] in [0, 1], as torchvision's ToTensor."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    x = x.unsqueeze(-1) if x.dim() == 3 else x
    return x.permute(0, 3, 1, 2).contiguous().to(torch.float32).div(255)


def normalize(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(x - mean) / std per channel, as torchvision's Normalize."""
    m = torch.as_tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    return x.sub(m).div(s)


def cnn_transform(dataset: str, images: np.ndarray) -> torch.Tensor:
    """The paper's CNN transform: MNIST ToTensor only; CIFAR-10 ToTensor then Normalize(0.5, 0.5).

    The result has the strides of the paper's stacked batches, (C·H·W, H·W, W, 1): with one channel a
    permuted tensor keeps stride 1 on C, which oneDNN reads as channels-last and convolves differently.
    """
    x = to_tensor(images)
    x = normalize(x, CIFAR_MEAN, CIFAR_STD) if dataset == "cifar10" else x
    return torch.empty(x.shape, dtype=x.dtype).copy_(x)


# --- subsets --------------------------------------------------------------------------------------
@dataclass
class Subset:
    """A transformed subset: x [N,C,H,W] float32, y [N] int64, idx [N] canonical indices.

    A map-style dataset yielding (x, y, idx), as the paper's datasets do: DataLoader(subset) works.
    """

    x: torch.Tensor
    y: torch.Tensor
    idx: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i], self.idx[i]

    def head(self, n: int) -> Subset:
        """The first n items (small slices for tests and demos)."""
        return Subset(self.x[:n], self.y[:n], self.idx[:n])

    def to(self, device: torch.device | str) -> Subset:
        """Inputs and labels on a device; the canonical indices stay on the CPU (they name rows and columns)."""
        return Subset(self.x.to(device), self.y.to(device), self.idx)


def subset_path(task: str, split: str, num_per_class: int | None = None, subset_seed: int = 0) -> Path:
    """data/<task>/train_subset_<n>pc.pt and test_subset.pt (the paper's), with `_r<R>` for a fresh draw R."""
    suffix = f"_r{subset_seed}" if subset_seed else ""
    name = f"train_subset_{num_per_class}pc{suffix}.pt" if split == "train" else f"test_subset{suffix}.pt"
    return subset_dir() / task / name


FRESH_DRAW_SALT = {"train": 0, "test": 1}


def fresh_indices(task: str, split: str, num_per_class: int | None, subset_seed: int, pool: Pool) -> np.ndarray:
    """A fresh class-balanced draw R >= 1 of a pool (the full dataset split): num_per_class train items of each of
    the task's classes, or a test subset of the paper's size and class counts (the test split: disjoint from every
    train item). Drawn with numpy's generator seeded with (R, split), in a shuffled order."""
    spec = TASKS[task]
    rng = np.random.default_rng([subset_seed, FRESH_DRAW_SALT[split]])
    if split == "train":
        counts = dict.fromkeys(spec.classes, num_per_class)
    else:
        paper = read_index_list(task, "test")
        paper_labels = select(load_pool(spec.dataset, "test", "shipped"), paper)[1]
        counts = {c: int((paper_labels == c).sum()) for c in spec.classes}
    chosen = []
    for label, count in counts.items():
        candidates = pool.indices[pool.labels == label]
        if len(candidates) < count:
            raise BadInput(f"the {split} pool has {len(candidates)} items of class {label}; a fresh subset needs {count}")
        chosen.append(rng.choice(candidates, count, replace=False))
    return rng.permutation(np.concatenate(chosen)).astype(np.int64)


def fresh_source(task: str, source: str, subset_seed: int) -> str:
    """The pixel source of a fresh draw: the full MNIST for MNIST tasks given `shipped` (the shipped subset arrays
    hold the paper's items only); CIFAR-10 needs the full dataset, which is not shipped: one line saying so."""
    dataset = TASKS[task].dataset
    if source != "shipped":
        return source
    if dataset == "mnist":
        return "mnist-full"
    raise BadInput(f"--subset-seed {subset_seed}: a fresh {task} subset needs the full CIFAR-10, which is not shipped "
                   f"(only the paper's indices are); with a network: python run_subset_generation.py --task {task} "
                   f"--subset-seed {subset_seed} --source torchvision --data-root DIR")


def build_subset(task: str, split: str, num_per_class: int | None, pool: Pool, subset_seed: int = 0) -> dict:
    """Select the paper's items (or fresh draw R's) from a pool, check their labels, and transform them."""
    spec = TASKS[task]
    wanted = fresh_indices(task, split, num_per_class, subset_seed, pool) if subset_seed else \
        read_index_list(task, split, num_per_class)
    images, labels = select(pool, wanted)
    check_labels(spec, split, labels, num_per_class)
    return {
        "x": cnn_transform(spec.dataset, images),
        "y": torch.from_numpy(labels.astype(np.int64)),
        "idx": torch.from_numpy(wanted),
        "images_uint8": torch.from_numpy(np.ascontiguousarray(images)),
        **({"subset_seed": subset_seed} if subset_seed else {}),
    }


def check_labels(spec: TaskSpec, split: str, labels: np.ndarray, num_per_class: int | None) -> None:
    """Labels lie in the task's classes, the train list has 10*N items (N per class where balanced)."""
    if split == "train" and len(labels) != len(spec.classes) * num_per_class:
        raise BadInput(f"{spec.name} train list has {len(labels)} items, expected {len(spec.classes) * num_per_class}")
    outside = sorted(set(labels.tolist()) - set(spec.classes))
    if outside:
        raise BadInput(f"{spec.name} {split} subset has labels {outside} outside the task's classes {spec.classes}")
    if spec.train_balanced if split == "train" else spec.test_balanced:
        counts = np.bincount(labels, minlength=max(spec.classes) + 1)[list(spec.classes)]
        expected = num_per_class if split == "train" else len(labels) // len(spec.classes)
        if not (counts == expected).all():
            raise BadInput(f"{spec.name} {split} subset is not balanced: counts {counts.tolist()}, expected {expected} per class")


def generate_subsets(task: str, sizes: list[int], source: str = "shipped", data_root: Path | None = None,
                     subset_seed: int = 0) -> list[Path]:
    """Write the train subsets of the given sizes and the test subset of a task (the paper's, or fresh draw R's
    from the full dataset); return their paths."""
    spec = check_task(task)
    for n in sizes:
        check_size(task, n)
    check_subset_seed(subset_seed)
    if subset_seed:
        source = fresh_source(task, source, subset_seed)
    written = []
    pools = {split: load_pool(spec.dataset, split, source, data_root) for split in ("train", "test")}
    jobs = [("train", n) for n in sizes] + [("test", None)]
    for split, n in jobs:
        subset = build_subset(task, split, n, pools[split], subset_seed)
        subset["source"] = source
        path = subset_path(task, split, n, subset_seed)
        save_torch(subset, path)
        log.info("wrote %s (%d items, source %s)", path, len(subset["y"]), source)
        written.append(path)
    return written


def load_subset_file(task: str, split: str, num_per_class: int | None = None, subset_seed: int = 0) -> dict:
    """The generated subset file's contents (x, y, idx, images_uint8), checked against the paper's index list (a
    fresh draw: its recorded subset seed and class balance), or one line naming the file, what is wrong and the
    command that makes it."""
    path = subset_path(task, split, num_per_class, subset_seed)
    flags = f"--task {task}" + (f" --num_per_class {num_per_class}" if split == "train" else "") + \
        (f" --subset-seed {subset_seed}" if subset_seed else "")
    remake = f"python run_subset_generation.py {flags}"
    if not path.exists():
        raise MissingOutput(f"missing data file {path}; run: {remake}")
    try:
        blob = torch.load(path)
    except Exception as error:  # noqa: BLE001 (truncated, empty or not a torch file)
        raise CorruptOutput(f"data file {path} cannot be read ({type(error).__name__}); remake it: {remake}") from None
    keys = ("x", "y", "idx", "images_uint8")
    if not isinstance(blob, dict) or any(k not in blob for k in keys):
        raise CorruptOutput(f"data file {path} is not a subset file (expected keys {', '.join(keys)}); remake it: {remake}")
    if subset_seed:
        if blob.get("subset_seed") != subset_seed:
            raise CorruptOutput(f"data file {path} is not fresh draw {subset_seed} (it records "
                                f"{blob.get('subset_seed')!r}); remake it: {remake}")
        check_labels(TASKS[task], split, blob["y"].numpy(), num_per_class)
        wanted = blob["idx"].numpy()
    else:
        wanted = read_index_list(task, split, num_per_class)
    channels = TASKS[task].channels
    x, y, idx = blob["x"], blob["y"], blob["idx"]
    images = blob["images_uint8"]
    shape_ok = (x.dim() == 4 and x.shape[1] == channels and len(x) == len(y) == len(idx) == len(images)
                and tuple(x.shape[2:]) == tuple(images.shape[1:3]))
    if not shape_ok or len(idx) != len(wanted) or not torch.equal(idx, torch.from_numpy(wanted)):
        order = index_list_path(TASKS[task], split, num_per_class).name
        raise CorruptOutput(f"data file {path} has the wrong shape or items (x {tuple(x.shape)}, {len(idx)} indices; "
                            f"expected [{len(wanted)}, {channels}, H, W] in the order of {order}); remake it: {remake}")
    return blob


def load_subset(task: str, split: str, num_per_class: int | None = None, subset_seed: int = 0) -> Subset:
    """Load a generated subset (the CNN transform), or say which command makes it."""
    blob = load_subset_file(task, split, num_per_class, subset_seed)
    return Subset(blob["x"], blob["y"], blob["idx"])


# --- phantom items: held-out images scored as if they were train items (their true effect is exactly 0) -------
PHANTOM_SALT = 2  # the phantom draw's generator: (subset seed, 2), beside the fresh draws' train 0 and test 1


def phantom_pool(dataset: str) -> tuple[Pool, bool]:
    """Where phantom items come from: the full MNIST train split (shipped), else the shipped CIFAR-10 pixels (the
    paper's items of every size). Second: whether the pool is the full split (then every paper train list of the
    task is held out too, so a phantom is a train item of no shipped cell)."""
    return (_mnist_full_pool(dataset, "train"), True) if dataset == "mnist" else (_shipped_pool(dataset, "train"), False)


@lru_cache(maxsize=4)
def phantom_items(task: str, train_idx: tuple[int, ...], train_labels: tuple[int, ...],
                  subset_seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8, labels, canonical indices) of the phantom items of a training subset: as many per class as
    the subset has, from the task's train split, none of them a train item of the subset (nor, from the full MNIST,
    of any of the paper's train lists of the task). Drawn with numpy's generator seeded (R, PHANTOM_SALT)."""
    spec = check_task(task)
    pool, full = phantom_pool(spec.dataset)
    excluded = set(train_idx)
    if full:
        for n in spec.sizes:
            excluded.update(read_index_list(task, "train", n).tolist())
    rng = np.random.default_rng([subset_seed, PHANTOM_SALT])
    labels = np.asarray(train_labels)
    chosen = []
    for label in spec.classes:
        count = int((labels == label).sum())
        candidates = pool.indices[(pool.labels == label) & ~np.isin(pool.indices, list(excluded))]
        if len(candidates) < count:
            raise BadInput(f"{task}: {len(candidates)} held-out train items of class {label} are left for phantom items; "
                           f"{count} are needed (as many as the training subset has)")
        chosen.append(rng.choice(candidates, count, replace=False))
    wanted = rng.permutation(np.concatenate(chosen)).astype(np.int64)
    images, selected = select(pool, wanted)
    return images, selected, wanted


def phantom_draw(task: str, train: Subset, subset_seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """phantom_items of a training subset given as a Subset (its indices and labels)."""
    return phantom_items(task, tuple(train.idx.tolist()), tuple(train.y.tolist()), subset_seed)


def load_phantoms(task: str, train: Subset, subset_seed: int = 0) -> Subset:
    """The phantom items of a training subset in the paper's CNN transform (see phantom_items)."""
    images, labels, idx = phantom_draw(task, train, subset_seed)
    return Subset(cnn_transform(TASKS[task].dataset, images), torch.from_numpy(labels.astype(np.int64)),
                  torch.from_numpy(idx))


def load_experiment_data(task: str, num_per_class: int, subset_seed: int = 0) -> tuple[Subset, Subset]:
    """(train, test) subsets of an experiment (subset seed R: its fresh draw)."""
    return (load_subset(task, "train", num_per_class, subset_seed),
            load_subset(task, "test", subset_seed=subset_seed))
