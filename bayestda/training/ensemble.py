"""Training the deep ensemble: one run per seed, the last five checkpoints kept, as the paper did.

Order of random calls (docs/protocol.md): torch.manual_seed(seed), build the model, then the DataLoader's
shuffles; with the same torch build this reproduces the paper's checkpoints bitwise. The model, its loss,
data and optimiser come from the experiment's model task (the paper's CNNs by default).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace

import torch

from .. import provenance
from ..core.device import check_device
from ..core.io import save_json
from ..core.losses import Loss, cross_entropy
from ..experiments.experiment import Experiment
from ..numerics.evaluation import logits_of
from ..numerics.many_models import paper_batch_order, train_many
from .checkpoints import build_model, record_training, save_checkpoint

log = logging.getLogger(__name__)


def is_trained(experiment: Experiment, seed: int) -> bool:
    """All five checkpoints and the metrics file (written last) exist and are current (made from today's data,
    model and recipe); otherwise the seed is trained (again)."""
    paths = [experiment.checkpoint_path(seed, e) for e in experiment.checkpoint_epochs] + [experiment.metrics_path(seed)]
    return all(provenance.is_current(p) for p in paths)


def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, loss: Loss = cross_entropy) -> dict[str, float]:
    """Test accuracy (%) and mean test loss of one model, from one pass over the test set."""
    model.eval()
    logits = logits_of(model, {n: p.detach() for n, p in model.named_parameters()}, x)
    model.train()
    correct = (logits.argmax(1) == y).sum().item()
    mean_loss = loss(logits, y, reduction="none").mean().item()
    return {"test_accuracy": 100.0 * correct / len(y), "test_loss": mean_loss}


def train_seed(experiment: Experiment, seed: int, overwrite: bool = False, device: str = "cpu", progress=None) -> dict:
    """Train one seed with the paper's loop (the model task's model, loss, data and recipe), saving the last five
    checkpoints and metrics.json."""
    check_device(device)
    if is_trained(experiment, seed) and not overwrite:
        log.info("skip %s seed %d: checkpoints exist (use --overwrite to retrain)", experiment.name, seed)
        return json.loads(experiment.metrics_path(seed).read_text())
    task = experiment.model_task
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = build_model(experiment).to(device)
    train, test = task.load_data(experiment, model)
    train_x, train_y, test_x, test_y = (t.to(device) for t in (train.x, train.y, test.x, test.y))
    batches = paper_batch_order(len(train), experiment.epochs, task.recipe.batch_size)
    metrics: dict = {"experiment": experiment.name, "seed": seed, "train_loss": [], "checkpoints": {}}

    def on_epoch_end(epoch: int, trainer, mean_losses: torch.Tensor) -> None:
        loss = float(mean_losses[0])
        metrics["train_loss"].append(loss)
        if epoch in experiment.checkpoint_epochs:
            net, optimizer = trainer.models[0], trainer.optimizers[0]
            save_checkpoint(experiment, seed, epoch, net, optimizer, loss)
            metrics["checkpoints"][str(epoch)] = evaluate(net, test_x, test_y, task.measurement)

    adam = task.recipe.adam
    if task.recipe.linear_decay:
        adam = replace(adam, decay_steps=sum(len(b) for b in batches))
    starts = [{n: p.detach().clone() for n, p in model.named_parameters()}]
    train_many(model, starts, train_x, train_y, batches, strategy="loop", adam=adam,
               on_epoch_end=on_epoch_end, progress=progress, loss=task.loss)
    metrics["wall_seconds"] = time.perf_counter() - start
    save_json(metrics, experiment.metrics_path(seed))
    record_training(experiment, seed, experiment.metrics_path(seed), "metrics")
    last = metrics["checkpoints"][str(experiment.checkpoint_epochs[-1])]
    log.info("%s seed %d: test accuracy %.2f%%, loss %.4f", experiment.name, seed, last["test_accuracy"], last["test_loss"])
    return metrics
