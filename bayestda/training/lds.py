"""The linear datamodeling score's retraining stage (Park et al. 2023): M halves of the train set, each trained
from scratch with the paper's recipe; the test losses of those models are what LDS predicts.

A design (`LdsDesign`) says which halves and which models:
- halves: `random` (M draws of floor(n/2) train positions without replacement) or `stratified` (every subset keeps
  floor(n_c/2) of each class's n_c items, so subsets differ only in which items of a class they keep: LDS over them
  measures what a method knows beyond the label). Both are drawn from a generator seeded with 0, the same for every
  seed and method; the first M of a larger M are the same draws.
- target: `independent` (default): R models per subset (R = 10), the r-th of each subset trained under the r-th of
  R seeds drawn reproducibly (generator seeded with 1) and disjoint from the 10 posterior seeds, so the target is
  independent of the models whose scores it judges (dattri, datamodels, kronfluence); `paired` (bayestda 0.2's):
  the posterior seeds themselves, subset m under seed s starting from seed s's initial weights.
Training of a subset under seed s repeats a seed's run on fewer items: torch.manual_seed(s), the initial weights,
then `DataLoader(subset, batch_size=32, shuffle=True)` batches drawn from the RNG state right after the model's
initialisation, the recipe's optimiser for the full number of epochs. With every item kept it is the seed's
training run, bitwise in its weights (tested); every model's test losses come from one channels-last evaluator
(`losses_of_models`: the test patches cut once; the module's forward to float rounding). One file per seed and
design (`LdsDesign.path`) holds the subsets and the [M, n_test] test losses of their models, written atomically with a provenance record.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .. import provenance
from ..core.device import check_device
from ..core.errors import BadInput, CorruptOutput
from ..core.parallel import default_workers, process_map
from ..core.params import Params
from ..core.seeds import load_seeds
from ..core.tensor_io import save_torch
from ..data.subset_losses import SubsetLosses
from ..data.subsets import Subset
from ..experiments.commands import lds_command
from ..experiments.experiment import Experiment
from ..numerics.evaluation import losses_of_models
from ..numerics.many_models import paper_batch_order, train_many
from .checkpoints import build_model, training_inputs

log = logging.getLogger(__name__)

LDS_VERSION = "2"  # bump when the retraining changes numbers (2: test losses from the channels-last evaluator)
SUBSET_DRAW_SEED = 0
TARGET_SEED_DRAW = 1  # the generator that draws the independent target's seeds
TARGET_SEED_RANGE = (1_000, 1_000_000)
MAX_SUBSETS = 10_000
MAX_MODELS = 100
TARGETS = ("independent", "paired")
HALVES = ("random", "stratified")  # what `--halves both` retrains
LEAVE_ONE_OUT = "leave_one_out"  # every train item left out once, and the full set: the from-scratch LOO truth


def check_subsets(m: int) -> int:
    """The number of LDS subsets, or a one-line error (the issue's M >= 100 is the default)."""
    if not isinstance(m, int) or m < 2 or m > MAX_SUBSETS:
        raise BadInput(f"--lds-subsets {m}: must be an integer from 2 to {MAX_SUBSETS} (Spearman over subsets "
                       "needs two or more; the default is 100)")
    return m


def independent_seeds(r: int) -> list[int]:
    """R retraining seeds, disjoint from the paper's posterior seeds and from each other; the first R of a larger R
    are the same."""
    generator = torch.Generator().manual_seed(TARGET_SEED_DRAW)
    posterior, seeds = set(load_seeds()), []
    while len(seeds) < r:
        seed = int(torch.randint(*TARGET_SEED_RANGE, (1,), generator=generator))
        if seed not in posterior and seed not in seeds:
            seeds.append(seed)
    return seeds


@dataclass(frozen=True)
class LdsDesign:
    """Which retraining an LDS uses: M subsets (random or class-stratified halves) and the target's models
    (independent: R seeds disjoint from the posterior's; paired: the posterior seeds)."""

    subsets: int = 100
    target: str = "independent"
    halves: str = "random"
    models: int = 10  # R, the independent target's models per subset (paired: one per posterior seed)

    def __post_init__(self) -> None:
        if self.halves == LEAVE_ONE_OUT:
            if self.target != "paired":
                raise BadInput("the from-scratch leave-one-out retrains each posterior seed from its own initialisation "
                               "and batch order: its target is paired, not " + repr(self.target))
        else:
            check_subsets(self.subsets)
        if self.target not in TARGETS:
            raise BadInput(f"--lds-target {self.target!r}; allowed: {', '.join(TARGETS)}")
        if self.halves not in (*HALVES, LEAVE_ONE_OUT):
            raise BadInput(f"LDS halves {self.halves!r}; allowed: {', '.join((*HALVES, LEAVE_ONE_OUT))}")
        if not isinstance(self.models, int) or not 1 <= self.models <= MAX_MODELS:
            raise BadInput(f"--lds-models {self.models}: must be an integer from 1 to {MAX_MODELS} (default 10)")

    @classmethod
    def leave_one_out(cls) -> LdsDesign:
        """The from-scratch LOO truth: for each posterior seed, its run without each train item (n models) and with
        all of them (its own run: its weights bitwise), from the seed's initialisation and batch order."""
        return cls(0, "paired", LEAVE_ONE_OUT)

    @property
    def stratified(self) -> bool:
        return self.halves == "stratified"

    @property
    def is_leave_one_out(self) -> bool:
        return self.halves == LEAVE_ONE_OUT

    def half_models(self, n_train: int) -> int:
        """What one seed's file costs to train, in models of half the train set: M halves, or the from-scratch
        LOO's n + 1 models of (nearly) every item, twice a half's each."""
        return (n_train + 1) * 2 if self.is_leave_one_out else self.subsets

    def with_halves(self, halves: str) -> LdsDesign:
        return replace(self, halves=halves)

    def seeds(self, posterior_seeds: list[int] | None = None) -> list[int]:
        """The seeds of the target's models: the posterior seeds (paired) or R seeds disjoint from them."""
        if self.target == "paired":
            return list(posterior_seeds or load_seeds())
        return independent_seeds(self.models)

    def path(self, experiment: Experiment, seed: int) -> Path:
        """One seed's file. The paired random design keeps bayestda 0.2's path (its files stay current)."""
        name = "loo_from_scratch.pt" if self.is_leave_one_out else \
            f"lds_{self.subsets}_stratified_subsets.pt" if self.stratified else f"lds_{self.subsets}_subsets.pt"
        base = experiment.base  # every posterior sampler's experiment has the paper's truth
        folder = base.model_dir(seed) if self.target == "paired" else base.lds_target_dir(seed)
        return folder / name

    def command(self, experiment: Experiment) -> str:
        """The command that makes this design's files."""
        return lds_command(experiment.base, self.subsets, target=self.target, halves=self.halves, models=self.models)

    def describe(self) -> str:
        """For methods.csv and summary.md: which target the LDS columns use."""
        if self.is_leave_one_out:
            return "from scratch, each train item left out of each posterior seed's run"
        if self.target == "paired":
            return "paired (the posterior seeds' own retraining)"
        return f"independent ({self.models} models per subset, seeds disjoint from the posterior's)"

    def record(self) -> dict:
        """The fields of a provenance record's `what` (bayestda 0.2's paired random files have none of them)."""
        return {"target": None if self.target == "paired" else self.target,
                "halves": None if self.halves == "random" else self.halves}

    @classmethod
    def from_record(cls, what: dict) -> LdsDesign:
        return cls(what["subsets"], what.get("target") or "paired", what.get("halves") or "random")


def check_supported(experiment: Experiment) -> None:
    """LDS retrains with the paper's CNN loop; a family trained its own way (ModelFamily.supports_lds) cannot use it."""
    family = experiment.family
    if not family.supports_lds:
        raise BadInput(f"LDS retraining repeats the paper's CNN training loop; {experiment.name}'s model family "
                       f"trains its own way ({family.training_script}: random crops), which it does not repeat yet; "
                       "LDS runs on the CNN experiments, e.g. cnn_mnist3_10pc")


def draw_subsets(n_train: int, m: int, labels: torch.Tensor | None = None) -> torch.Tensor:
    """[m, n_train] bool: m halves of the train positions, the same for every seed: floor(n/2) items drawn
    from all, or (with labels) floor(n_c/2) from each class c."""
    generator = torch.Generator().manual_seed(SUBSET_DRAW_SEED)
    masks = torch.zeros(m, n_train, dtype=torch.bool)
    groups = [torch.arange(n_train)] if labels is None else [
        (labels == c).nonzero().squeeze(1) for c in torch.unique(labels.cpu()).tolist()]
    for row in masks:
        for group in groups:
            row[group[torch.randperm(len(group), generator=generator)[: len(group) // 2]]] = True
    return masks


def leave_one_out_masks(n_train: int) -> torch.Tensor:
    """[n_train + 1, n_train] bool: row 0 keeps every item (the seed's own run), row i + 1 leaves out item i."""
    return torch.cat([torch.ones(1, n_train, dtype=torch.bool), ~torch.eye(n_train, dtype=torch.bool)])


def lds_inputs(experiment: Experiment, seed: int, design: LdsDesign) -> dict:
    """What a seed's subset-model file is made from: what its training run is made from, M, the halves, how the
    independent seeds were drawn, and this code's version (0.2's paired random files keep their inputs)."""
    inputs = {**training_inputs(experiment, seed), "lds_subsets": design.subsets, "lds_version": LDS_VERSION}
    if design.stratified:
        inputs["halves"] = "stratified, generator seed 0"
    if design.is_leave_one_out:
        inputs["halves"] = "leave one out, and the full set first"
    if design.target == "independent":
        inputs["target_seeds"] = f"drawn with generator seed {TARGET_SEED_DRAW} from {TARGET_SEED_RANGE}, " \
                                 "disjoint from the posterior seeds"
    return inputs


LDS_KIND = provenance.declare(provenance.Kind(
    "lds", lambda w: lds_inputs(Experiment.from_record(w), w["seed"], LdsDesign.from_record(w)),
    lambda w: LdsDesign.from_record(w).path(Experiment.from_record(w), w["seed"])))


@dataclass
class SeedStart:
    """A seed's run before its first step, shared by its subsets: the model, its initial weights, the CPU RNG
    state right after the initialisation, and the data."""

    net: nn.Module
    start: Params
    cpu_state: torch.Tensor
    train: Subset
    test: Subset


def seed_start(experiment: Experiment, seed: int, device: str = "cpu") -> SeedStart:
    torch.manual_seed(seed)
    net = build_model(experiment).to(device)
    cpu_state = torch.get_rng_state()
    train, test = experiment.family.load_data(experiment, net)
    start = {n: p.detach().clone() for n, p in net.named_parameters()}
    return SeedStart(net, start, cpu_state, train.to(device), test.to(device))


def train_on_subset(experiment: Experiment, seed: int, positions: torch.Tensor, device: str = "cpu",
                    begun: SeedStart | None = None) -> Params:
    """Final trainable weights of the seed's run (the paper's recipe) on the train items at `positions` only."""
    begun = begun or seed_start(experiment, seed, device)
    family = experiment.family
    torch.manual_seed(seed)  # every device's generator as after the seed's manual_seed (the model is built on the CPU)
    torch.set_rng_state(begun.cpu_state)  # ... and the CPU's as right after the model's initialisation
    batches = paper_batch_order(len(positions), experiment.epochs, family.recipe.batch_size)
    adam = family.recipe.adam_for(sum(len(b) for b in batches))
    train = begun.train
    x, y = train.x[positions.to(train.x.device)], train.y[positions.to(train.y.device)]
    begun.net.train()
    return train_many(begun.net, [begun.start], x, y, batches, strategy="loop", adam=adam, loss=family.loss)[0]


def retrain_seed(experiment: Experiment, seed: int, design: LdsDesign, overwrite: bool = False, device: str = "cpu",
                 show_progress: bool = True) -> None:
    """Train the seed's model on each of the design's subsets and write their test losses (skipped when current)."""
    check_supported(experiment)
    path = design.path(experiment, seed)
    if not overwrite and provenance.is_current(path):
        log.info("skip LDS subsets of %s seed %d: %s is current (use --overwrite to retrain)", experiment.name, seed, path)
        return
    begun = seed_start(experiment, seed, device)
    train, test = begun.train, begun.test
    masks = leave_one_out_masks(len(train)) if design.is_leave_one_out else \
        draw_subsets(len(train), design.subsets, train.y.cpu() if design.stratified else None)
    models = [train_on_subset(experiment, seed, mask.nonzero().squeeze(1), device, begun)
              for mask in tqdm(masks, desc=f"{experiment.name} seed {seed} LDS {design.halves} subsets", unit="model",
                               disable=not show_progress)]
    begun.net.eval()  # every model evaluated at once: the CNN's channels-last evaluator cuts the test patches once
    losses = losses_of_models(begun.net, models, test.x, test.y, loss=experiment.family.measurement).float().cpu()
    blob = {"subsets": masks, "test_losses": losses, "train_idx": torch.as_tensor(train.idx).cpu(),
            "test_idx": torch.as_tensor(test.idx).cpu(), "seed": seed, "subset_draw_seed": SUBSET_DRAW_SEED,
            "halves": design.halves, "target": design.target}
    save_torch(blob, path)
    provenance.write(path, experiment.record_what("lds", seed=seed, subsets=design.subsets, **design.record()),
                     lds_inputs(experiment, seed, design), {"device": str(device)})


def _retrain_job(job: tuple[Experiment, int, LdsDesign, bool, str, bool]) -> int:
    experiment, seed, design, overwrite, device, progress = job  # the Experiment itself: its ViT weights travel too
    retrain_seed(experiment, seed, design, overwrite, device, show_progress=progress)
    return seed


def retrain(experiment: Experiment, designs: list[LdsDesign], seeds: list[int] | None = None, overwrite: bool = False,
            device: str = "cpu", jobs: int | None = None) -> None:
    """The subset models of every design and seed not yet current (seeds: the designs' own, or these posterior
    seeds for the paired target, or these target seeds), seeds in parallel processes on a CPU."""
    check_supported(experiment)  # before any process starts
    check_device(device)
    jobs = jobs or default_workers(device)
    work, done = [], 0
    for design in designs:
        for seed in seeds or design.seeds():
            if overwrite or not provenance.is_current(design.path(experiment, seed)):
                work.append((experiment, seed, design, overwrite, device, jobs <= 1))
            else:
                done += 1
    if done:
        log.info("LDS subset models of %d of %d (design, seed) are current: skipped", done, done + len(work))
    process_map(_retrain_job, work, jobs, f"{experiment.name} LDS retraining", unit="seed")


def lds_problem(experiment: Experiment, design: LdsDesign, seeds: list[int] | None = None):
    """The first of the design's files that is not current, as (path, problem), or None."""
    for seed in design.seeds(seeds):
        path = design.path(experiment, seed)
        why = provenance.problem(path)
        if why is not None:
            return path, why
    return None


def load_subset_losses(experiment: Experiment, design: LdsDesign, seeds: list[int] | None = None) -> SubsetLosses:
    """Every target model's subset test losses, checked current, or one line naming the command that makes them
    (seeds: the posterior seeds of a paired target)."""
    problem = lds_problem(experiment, design, seeds)
    if problem is not None:
        path, why = problem
        raise type(why)(f"LDS needs the models retrained on {design.subsets} {design.halves} subsets "
                        f"({design.target} target); {path} is {why}; run: {design.command(experiment)}")
    target_seeds = design.seeds(seeds)
    blobs = [torch.load(design.path(experiment, seed), map_location="cpu") for seed in target_seeds]
    first = blobs[0]
    for seed, blob in zip(target_seeds, blobs):
        if not torch.equal(blob["subsets"], first["subsets"]) or not torch.equal(blob["test_idx"], first["test_idx"]):
            raise CorruptOutput(f"{design.path(experiment, seed)} holds other subsets or test items than seed "
                                f"{target_seeds[0]}'s; remake it: {design.command(experiment)} --overwrite")
    return SubsetLosses(first["subsets"].numpy(), np.stack([b["test_losses"].double().numpy() for b in blobs]),
                        first["train_idx"].numpy(), first["test_idx"].numpy(), design.describe())


def from_scratch_loo(experiment: Experiment, seeds: list[int] | None = None) -> SubsetLosses | None:
    """The from-scratch leave-one-out test losses [seeds, n_train + 1, n_test] (row 0: the full run), where every
    posterior seed's file is current; None (logged, with the command) where not."""
    design = LdsDesign.leave_one_out()
    if not lds_available(experiment, design, seeds):
        log.info("the from-scratch LOO truth is left out of %s's analysis: not retrained (add it with: %s)",
                 experiment.name, design.command(experiment))
        return None
    return load_subset_losses(experiment, design, seeds)


def lds_available(experiment: Experiment, design: LdsDesign, seeds: list[int] | None = None) -> bool:
    return lds_problem(experiment, design, seeds) is None
