"""Experiments: one value names every file of an experiment (`cnn_mnist3_10pc`).

No path is built by hand anywhere else: scripts and library code ask an `Experiment` for it. The data tasks
live in `core.datasets`, the seeds in `core.seeds`, the model families in `families`; their names are re-exported
here for code written against bayestda 0.2.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..attribution.registry import default_methods
from ..core.datasets import TASKS, TaskSpec, check_size, check_subset_seed, check_task
from ..core.errors import BadInput
from ..core.paths import output_root
from ..core.seeds import PAPER_SEEDS, check_seed_id, load_seeds, seed_id_of
from ..families.base import ModelFamily
from ..families.registry import family_named
from ..samplers import DEFAULT_SAMPLER, SAMPLES_PER_SEED, Sampler, all_samplers, check_sampler, get_sampler

__all__ = ["LAST_CHECKPOINTS", "PAPER_SEEDS", "TASKS", "Experiment", "TaskSpec", "check_arch", "check_seed_id",
           "check_size", "check_task", "experiments_for", "load_seeds", "seed_id_of"]

LAST_CHECKPOINTS = 5


def check_arch(arch: str) -> str:
    """A registered model name (cnn, cnn3, vit, vitmnist, vittiny, vitrandom, or a user's task), or a one-line error."""
    family_named(arch)
    return arch


_NAME = re.compile(r"^(?P<model>[a-z0-9]+(?:-[a-z0-9]+)*)_(?P<task>[a-z0-9]+)_(?P<n>\d+)pc(?:_r(?P<r>[1-9]\d*))?"
                   r"(?:_(?P<sampler>[a-z][a-z0-9-]*))?$")


@dataclass(frozen=True)
class Experiment:
    """One experiment `<model>_<task>_<n>pc[_r<R>][_<sampler>]`: knows its epochs, checkpoints and every path. R, the
    training-subset seed, is 0 for the paper's subset (no suffix) and R >= 1 for a fresh draw (`_r1`); the sampler
    is the posterior's (bayestda.samplers): the paper's seeds × checkpoints (no suffix), or another (`_swag`)."""

    model: str
    task: str
    num_per_class: int
    vit_weights: str | None = field(default=None, compare=False, repr=False)  # ViT weight source: HF id or local dir
    subset_seed: int = 0
    sampler: str = DEFAULT_SAMPLER

    def __post_init__(self) -> None:
        check_arch(self.model)
        check_size(self.task, self.num_per_class)
        check_subset_seed(self.subset_seed)
        check_sampler(self.sampler, self.family)

    @classmethod
    def parse(cls, name: str, vit_weights: str | None = None) -> Experiment:
        match = _NAME.match(name)
        sampler = match["sampler"] if match else None
        if sampler and sampler.startswith("r") and sampler not in all_samplers():  # a bad subset seed (_r0, _rx)
            match = None
        if not match:
            raise BadInput(
                f"experiment name {name!r} is not of the form <model>_<task>_<n>pc[_r<R>][_<sampler>], R >= 1, "
                "e.g. cnn_mnist3_10pc (the paper's subset), cnn_mnist3_10pc_r1 (a fresh subset), cnn_mnist3_10pc_swag"
            )
        return cls(match["model"], match["task"], int(match["n"]), vit_weights=vit_weights,
                   subset_seed=int(match["r"] or 0), sampler=match["sampler"] or DEFAULT_SAMPLER)

    @property
    def name(self) -> str:
        return f"{self.model}_{self.subset}" + ("" if self.sampler == DEFAULT_SAMPLER else f"_{self.sampler}")

    # --- the posterior sampler -----------------------------------------------------------------------
    @property
    def posterior_sampler(self) -> Sampler:
        """The sampler of the posterior's samples (registered defaults; settings travel with the sampling call)."""
        return get_sampler(self.sampler)

    @property
    def base(self) -> Experiment:
        """The same experiment under the paper's sampler: the trained seeds a sampler starts from, and the
        truths (LDS, from-scratch LOO), which do not depend on how the posterior is sampled."""
        return self if self.sampler == DEFAULT_SAMPLER else replace(self, sampler=DEFAULT_SAMPLER)

    @property
    def draws_samples(self) -> bool:
        """Its sampler writes samples of its own (swag, sgld, laplace); else its files are the paper's checkpoints'."""
        return self.posterior_sampler.draws

    @property
    def _folder(self) -> str:
        """The folder name of its checkpoints and score files: the subset's, `_<sampler>` for drawn samples."""
        return f"{self.subset}_{self.sampler}" if self.draws_samples else self.subset

    @classmethod
    def from_record(cls, what: dict) -> Experiment:
        """The experiment a provenance record's `what` names (with its ViT weight source, where it has one)."""
        return cls.parse(what["experiment"], vit_weights=what.get("vit_weights"))

    def record_what(self, kind: str, **fields) -> dict:
        """A provenance record's `what` for an output of this experiment: its kind, the experiment, its fields."""
        what = {"kind": kind, "experiment": self.name}
        if self.vit_weights is not None:
            what["vit_weights"] = self.vit_weights
        return {**what, **{k: v for k, v in fields.items() if v is not None}}

    @property
    def family(self) -> ModelFamily:
        """The model family (families.ModelFamily): model, loss, data transform, training recipe, trainer."""
        return family_named(self.model)

    @property
    def model_task(self) -> ModelFamily:
        """The model family: its name before 0.4 (`family`), kept for code written against it."""
        return self.family

    @property
    def backbone(self) -> str | None:
        """The pretrained weight source of the model (the ViT's --vit-weights); None for the CNNs."""
        return self.family.backbone(self)

    @property
    def subset(self) -> str:
        """The training subset's name: `<task>_<n>pc`, and `_r<R>` for a fresh draw."""
        return f"{self.task}_{self.num_per_class}pc" + (f"_r{self.subset_seed}" if self.subset_seed else "")

    @property
    def spec(self) -> TaskSpec:
        return TASKS[self.task]

    @property
    def epochs(self) -> int:
        """Training epochs: the model family's recipe, by default the data task's (15 MNIST, 30 CIFAR-10)."""
        return self.family.epochs(self)

    @property
    def checkpoint_epochs(self) -> list[int]:
        """0-based epochs after which a checkpoint is kept: the last five (a drawing sampler's: its samples 0..4)."""
        if self.draws_samples:
            return list(range(SAMPLES_PER_SEED))
        kept = self.posterior_sampler.checkpoints or LAST_CHECKPOINTS  # a slice keeps fewer
        return list(range(self.epochs - kept, self.epochs))

    @property
    def posterior_seeds(self) -> list[int]:
        """The seeds of its posterior: all 10, or a slice's first ones (`quick`: 3)."""
        return load_seeds()[: self.posterior_sampler.seeds or len(load_seeds())]

    def check_checkpoint_epochs(self, epochs: list[int] | None) -> list[int]:
        if not epochs:
            return self.checkpoint_epochs
        bad = [e for e in epochs if e not in self.checkpoint_epochs]
        if bad:
            allowed = ", ".join(map(str, self.checkpoint_epochs))
            raise BadInput(f"--ckpts {bad[0]} is not a checkpoint of {self.name}; allowed: {allowed}")
        return sorted(set(epochs))

    # --- paths -----------------------------------------------------------------------------------
    def model_dir(self, seed: int) -> Path:
        return output_root() / "models" / self.model / self._folder / str(seed)

    def lds_target_dir(self, seed: int) -> Path:
        """The LDS subset models of an independent target seed (not one of the posterior's)."""
        return output_root() / "models" / self.model / self.subset / "lds_targets" / str(seed)  # every sampler's

    def checkpoint_path(self, seed: int, epoch: int) -> Path:
        return self.model_dir(seed) / f"ckpt_epoch_{epoch}.pth"

    def metrics_path(self, seed: int) -> Path:
        return self.model_dir(seed) / "metrics.json"

    def scores_dir(self, method: str, seed: int) -> Path:
        return output_root() / "tda_scores" / self.model / method / self._folder / str(seed)

    def scores_path(self, method: str, seed: int, epoch: int) -> Path:
        return self.scores_dir(method, seed) / f"attribution_ckpt_{epoch}.csv"

    def results_dir(self) -> Path:
        return output_root() / "results" / self.name

    @property
    def whole_analysis_methods(self) -> list[str]:
        """The methods of the experiment's whole analysis: every default method and the family's own (what `make
        reproduce` and `run_all.py` score and analyse by default)."""
        if self.posterior_sampler.methods is not None:  # a slice's own
            return list(self.posterior_sampler.methods)
        return default_methods() + [m for m in self.family.reproduce_methods if m not in default_methods()]

    def analysis_dir(self, methods, seeds=None) -> Path:
        """Where an analysis of these methods and seeds writes its tables: `results/<exp>/` for the whole analysis
        (its methods, all seeds), else a folder of its own inside it named by its methods (and seed ids), so that
        the tables of one folder always come from one analysis."""
        folder = self.results_dir()
        all_seeds = seeds is None or set(seeds) == set(self.posterior_seeds)
        if set(methods) == set(self.whole_analysis_methods) and all_seeds:
            return folder
        names = sorted(set(methods))
        label = "+".join(names) if len(names) <= 4 else \
            f"{len(names)}_methods_{hashlib.sha256(','.join(names).encode()).hexdigest()[:8]}"
        if not all_seeds:
            label += "_seeds_" + "-".join(str(seed_id_of(s)) for s in sorted(seeds, key=seed_id_of))
        return folder / label


def experiments_for(arch: str, task: str | None, num_per_class: int | None, vit_weights: str | None = None,
                    subset_seed: int = 0, sampler: str = DEFAULT_SAMPLER) -> list[Experiment]:
    """Every experiment the flags select: no task = all tasks of the paper, no size = all sizes."""
    check_arch(arch)
    tasks = [task] if task else ["mnist3", "cifar10"]
    out = []
    for t in tasks:
        spec = check_task(t)
        sizes = [check_size(t, num_per_class)] if num_per_class is not None else list(spec.sizes)
        out.extend(Experiment(arch, t, n, vit_weights=vit_weights, subset_seed=subset_seed, sampler=sampler)
                   for n in sizes)
    return out
