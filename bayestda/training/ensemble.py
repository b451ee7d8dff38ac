"""Training the deep ensemble: one run per seed, the last five checkpoints kept, as the paper did.

Order of random calls (docs/protocol.md): torch.manual_seed(seed), build the model, then the DataLoader's
shuffles; with the same torch build this reproduces the paper's checkpoints bitwise. The model, its loss,
data and optimiser come from the experiment's model family (the paper's CNNs by default).
"""

from __future__ import annotations

import time

import torch

from ..core.device import check_device
from ..experiments.experiment import Experiment
from ..numerics.many_models import paper_batch_order, train_many
from .checkpoints import build_model
from .seed_run import SeedRun, trained_metrics


def train_seed(experiment: Experiment, seed: int, overwrite: bool = False, device: str = "cpu", progress=None) -> dict:
    """Train one seed with the paper's loop (the model family's model, loss, data and recipe), saving the last five
    checkpoints and metrics.json."""
    check_device(device)
    done = trained_metrics(experiment, seed, overwrite)
    if done is not None:
        return done
    family = experiment.family
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = build_model(experiment).to(device)
    train, test = family.load_data(experiment, model)
    train_x, train_y, test_x, test_y = (t.to(device) for t in (train.x, train.y, test.x, test.y))
    batches = paper_batch_order(len(train), experiment.epochs, family.recipe.batch_size)
    run = SeedRun(experiment, seed, start, test_x, test_y, family.measurement)

    def on_epoch_end(epoch: int, trainer, mean_losses: torch.Tensor) -> None:
        run.end_epoch(epoch, trainer.models[0], trainer.optimizers[0], float(mean_losses[0]))

    starts = [{n: p.detach().clone() for n, p in model.named_parameters()}]
    train_many(model, starts, train_x, train_y, batches, strategy="loop",
               adam=family.recipe.adam_for(sum(len(b) for b in batches)), on_epoch_end=on_epoch_end,
               progress=progress, loss=family.loss)
    return run.finish()
