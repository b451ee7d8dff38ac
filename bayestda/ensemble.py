"""Training the deep ensemble: one run per seed, the last five checkpoints kept, as the paper did.

Order of random calls (PROTOCOL.md): torch.manual_seed(seed), build the model, then the DataLoader's
shuffles; with the same torch build this reproduces the paper's checkpoints bitwise.
"""

from __future__ import annotations

import json
import logging
import time

import torch
from torch.nn import functional as F

from .checkpoints import build_model, missing_checkpoints, save_checkpoint
from .data import load_experiment_data
from .experiment import Experiment
from .functional import logits_of
from .io import save_json
from .training import AdamSettings, paper_batch_order, train_many

log = logging.getLogger(__name__)


def is_trained(experiment: Experiment, seed: int) -> bool:
    """All five checkpoints and the metrics file (written last) exist."""
    return not missing_checkpoints(experiment, seed) and experiment.metrics_path(seed).exists()


def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Test accuracy (%) and mean test loss of one model, from one pass over the test set."""
    model.eval()
    logits = logits_of(model, {n: p.detach() for n, p in model.named_parameters()}, x)
    model.train()
    correct = (logits.argmax(1) == y).sum().item()
    loss = F.cross_entropy(logits, y, reduction="none").mean().item()
    return {"test_accuracy": 100.0 * correct / len(y), "test_loss": loss}


def train_seed(experiment: Experiment, seed: int, overwrite: bool = False, progress=None) -> dict:
    """Train one seed of an experiment, saving the last five checkpoints and metrics.json."""
    if is_trained(experiment, seed) and not overwrite:
        log.info("skip %s seed %d: checkpoints exist (use --overwrite to retrain)", experiment.name, seed)
        return json.loads(experiment.metrics_path(seed).read_text())
    train, test = load_experiment_data(experiment.task, experiment.num_per_class)
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = build_model(experiment)
    batches = paper_batch_order(len(train), experiment.epochs)
    metrics: dict = {"experiment": experiment.name, "seed": seed, "train_loss": [], "checkpoints": {}}

    def on_epoch_end(epoch: int, trainer, mean_losses: torch.Tensor) -> None:
        loss = float(mean_losses[0])
        metrics["train_loss"].append(loss)
        if epoch in experiment.checkpoint_epochs:
            net, optimizer = trainer.models[0], trainer.optimizers[0]
            save_checkpoint(experiment, seed, epoch, net, optimizer, loss)
            metrics["checkpoints"][str(epoch)] = evaluate(net, test.x, test.y)

    starts = [{n: p.detach().clone() for n, p in model.named_parameters()}]
    train_many(model, starts, train.x, train.y, batches, strategy="loop", adam=AdamSettings(),
               on_epoch_end=on_epoch_end, progress=progress)
    metrics["wall_seconds"] = time.perf_counter() - start
    save_json(metrics, experiment.metrics_path(seed))
    last = metrics["checkpoints"][str(experiment.checkpoint_epochs[-1])]
    log.info("%s seed %d: test accuracy %.2f%%, loss %.4f", experiment.name, seed, last["test_accuracy"], last["test_loss"])
    return metrics
