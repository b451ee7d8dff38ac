"""The linear datamodeling score's retraining stage (Park et al. 2023): M random halves of the train set, each
trained from scratch with the paper's recipe for every seed; the test losses of those models are what LDS predicts.

Subsets: M draws of floor(n/2) train positions without replacement from a generator seeded with 0, so every seed
and every method uses the same subsets, and the first M of a larger M are the same draws. Training of subset m
under seed s repeats the seed's own run on fewer items: torch.manual_seed(s), the same initial weights, then
`DataLoader(subset, batch_size=32, shuffle=True)` batches drawn from the RNG state right after the model's
initialisation, the recipe's optimiser for the full number of epochs. With every item kept it is the seed's
training run, bitwise (tested). Per seed one file `models/<model>/<task>_<N>pc/<seed>/lds_<M>_subsets.pt` holds
the subsets and the [M, n_test] test losses of their models, written atomically with a provenance record.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from . import provenance
from .checkpoints import build_model, training_inputs
from .commands import lds_command
from .data import Subset
from .device import check_device
from .errors import BadInput, CorruptOutput
from .evaluation import per_sample_losses
from .experiment import Experiment
from .io import save_torch
from .lds_targets import SubsetLosses
from .parallel import default_workers, process_map
from .params import Params
from .seeds import load_seeds
from .training import paper_batch_order, train_many

log = logging.getLogger(__name__)

LDS_VERSION = "1"  # bump when the retraining changes numbers
SUBSET_DRAW_SEED = 0
MAX_SUBSETS = 10_000


def check_subsets(m: int) -> int:
    """The number of LDS subsets, or a one-line error (the issue's M >= 100 is the default)."""
    if not isinstance(m, int) or m < 2 or m > MAX_SUBSETS:
        raise BadInput(f"--lds-subsets {m}: must be an integer from 2 to {MAX_SUBSETS} (Spearman over subsets "
                       "needs two or more; the default is 100)")
    return m


def check_supported(experiment: Experiment) -> None:
    """LDS retrains with the paper's CNN loop; a family trained its own way (ModelTask.supports_lds) cannot use it."""
    task = experiment.model_task
    if not task.supports_lds:
        raise BadInput(f"LDS retraining repeats the paper's CNN training loop; {experiment.name}'s model family "
                       f"trains its own way ({task.training_script}: random crops), which it does not repeat yet; "
                       "LDS runs on the CNN experiments, e.g. cnn_mnist3_10pc")


def draw_subsets(n_train: int, m: int) -> torch.Tensor:
    """[m, n_train] bool: m halves (floor(n/2) items each) of the train positions, the same for every seed."""
    generator = torch.Generator().manual_seed(SUBSET_DRAW_SEED)
    masks = torch.zeros(m, n_train, dtype=torch.bool)
    for row in masks:
        row[torch.randperm(n_train, generator=generator)[: n_train // 2]] = True
    return masks


def lds_path(experiment: Experiment, seed: int, m: int):
    return experiment.model_dir(seed) / f"lds_{m}_subsets.pt"


def lds_inputs(experiment: Experiment, seed: int, m: int) -> dict:
    """What a seed's subset-model file is made from: what its training run is made from, M and this code's version."""
    return {**training_inputs(experiment, seed), "lds_subsets": m, "lds_version": LDS_VERSION}


provenance.declare(provenance.Kind(
    "lds", lambda w: lds_inputs(Experiment.from_record(w), w["seed"], w["subsets"]),
    lambda w: lds_path(Experiment.from_record(w), w["seed"], w["subsets"])))


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
    train, test = experiment.model_task.load_data(experiment, net)
    start = {n: p.detach().clone() for n, p in net.named_parameters()}
    return SeedStart(net, start, cpu_state, train.to(device), test.to(device))


def train_on_subset(experiment: Experiment, seed: int, positions: torch.Tensor, device: str = "cpu",
                    begun: SeedStart | None = None) -> Params:
    """Final trainable weights of the seed's run (the paper's recipe) on the train items at `positions` only."""
    begun = begun or seed_start(experiment, seed, device)
    task = experiment.model_task
    torch.manual_seed(seed)  # every device's generator as after the seed's manual_seed (the model is built on the CPU)
    torch.set_rng_state(begun.cpu_state)  # ... and the CPU's as right after the model's initialisation
    batches = paper_batch_order(len(positions), experiment.epochs, task.recipe.batch_size)
    adam = task.recipe.adam
    if task.recipe.linear_decay:
        adam = replace(adam, decay_steps=sum(len(b) for b in batches))
    train = begun.train
    x, y = train.x[positions.to(train.x.device)], train.y[positions.to(train.y.device)]
    begun.net.train()
    return train_many(begun.net, [begun.start], x, y, batches, strategy="loop", adam=adam, loss=task.loss)[0]


def retrain_seed(experiment: Experiment, seed: int, m: int, overwrite: bool = False, device: str = "cpu",
                 show_progress: bool = True) -> None:
    """Train the seed's model on each of the m subsets and write their test losses (skipped when current)."""
    check_subsets(m)
    check_supported(experiment)
    path = lds_path(experiment, seed, m)
    if not overwrite and provenance.is_current(path):
        log.info("skip LDS subsets of %s seed %d: %s is current (use --overwrite to retrain)", experiment.name, seed, path)
        return
    begun = seed_start(experiment, seed, device)
    train, test = begun.train, begun.test
    masks = draw_subsets(len(train), m)
    losses = torch.empty(m, len(test), dtype=torch.float32)
    for k in tqdm(range(m), desc=f"{experiment.name} seed {seed} LDS subsets", unit="model", disable=not show_progress):
        params = train_on_subset(experiment, seed, masks[k].nonzero().squeeze(1), device, begun)
        begun.net.eval()
        losses[k] = per_sample_losses(begun.net, params, test.x, test.y,
                                      loss=experiment.model_task.measurement).float().cpu()
    blob = {"subsets": masks, "test_losses": losses, "train_idx": torch.as_tensor(train.idx).cpu(),
            "test_idx": torch.as_tensor(test.idx).cpu(), "seed": seed, "subset_draw_seed": SUBSET_DRAW_SEED}
    save_torch(blob, path)
    provenance.write(path, experiment.record_what("lds", seed=seed, subsets=m), lds_inputs(experiment, seed, m),
                     {"device": str(device)})


def _retrain_job(job: tuple[str, int, int, bool, str, bool]) -> int:
    name, seed, m, overwrite, device, progress = job
    retrain_seed(Experiment.parse(name), seed, m, overwrite, device, show_progress=progress)
    return seed


def retrain_seeds(experiment: Experiment, seeds: list[int], m: int, overwrite: bool = False, device: str = "cpu",
                  jobs: int | None = None) -> None:
    """The subset models of every seed not yet current, seeds in parallel processes on a CPU."""
    check_supported(experiment)  # before any process starts
    check_device(device)
    jobs = jobs or default_workers(device)
    pending = [s for s in seeds if overwrite or not provenance.is_current(lds_path(experiment, s, m))]
    if len(pending) < len(seeds):
        log.info("LDS subsets of %d of %d seeds are current: skipped", len(seeds) - len(pending), len(seeds))
    work = [(experiment.name, seed, m, overwrite, device, jobs <= 1) for seed in pending]
    process_map(_retrain_job, work, jobs, f"{experiment.name} LDS retraining ({m} subsets)")


def load_subset_losses(experiment: Experiment, m: int, seeds: list[int] | None = None) -> SubsetLosses:
    """Every seed's subset-model test losses, checked current, or one line naming the command that makes them."""
    seeds = seeds or load_seeds()
    blobs = []
    for seed in seeds:
        path = lds_path(experiment, seed, m)
        why = provenance.problem(path)
        if why is not None:
            raise type(why)(f"LDS needs the models retrained on {m} subsets for every seed; {path} is {why}; "
                            f"run: {lds_command(experiment, m)}")
        blobs.append(torch.load(path, map_location="cpu"))
    first = blobs[0]
    for seed, blob in zip(seeds, blobs):
        if not torch.equal(blob["subsets"], first["subsets"]) or not torch.equal(blob["test_idx"], first["test_idx"]):
            raise CorruptOutput(f"{lds_path(experiment, seed, m)} holds other subsets or test items than seed "
                                f"{seeds[0]}'s; remake it: {lds_command(experiment, m, seed)} --overwrite")
    return SubsetLosses(first["subsets"].numpy(), np.stack([b["test_losses"].double().numpy() for b in blobs]),
                        first["train_idx"].numpy(), first["test_idx"].numpy())


def lds_available(experiment: Experiment, m: int, seeds: list[int] | None = None) -> bool:
    return all(provenance.is_current(lds_path(experiment, s, m)) for s in seeds or load_seeds())
