"""One seed's training run as every loop writes it: skipped when current, the last five checkpoints saved and
evaluated, metrics.json written and recorded last. The loops (`ensemble`, `vit_finetuning`) only step."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import torch

from .. import provenance
from ..core.io import save_json
from ..core.losses import Loss, cross_entropy
from ..experiments.experiment import Experiment
from ..numerics.evaluation import logits_of
from .checkpoints import record_training, save_checkpoint

log = logging.getLogger(__name__)


def seed_outputs(experiment: Experiment, seed: int) -> list[Path]:
    """What a seed's run writes: its last five checkpoints, then metrics.json (last: a run cut short has none)."""
    return [experiment.checkpoint_path(seed, e) for e in experiment.checkpoint_epochs] + [experiment.metrics_path(seed)]


def is_trained(experiment: Experiment, seed: int) -> bool:
    """Every output of the seed's run exists and is current (made from today's data, model and recipe); otherwise
    the seed is trained (again)."""
    return all(provenance.is_current(p) for p in seed_outputs(experiment, seed))


def trained_metrics(experiment: Experiment, seed: int, overwrite: bool) -> dict | None:
    """The metrics of a seed whose checkpoints are current (the run is skipped), or None: train it."""
    if overwrite or not is_trained(experiment, seed):
        return None
    log.info("skip %s seed %d: checkpoints exist (use --overwrite to retrain)", experiment.name, seed)
    return json.loads(experiment.metrics_path(seed).read_text())


def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, loss: Loss = cross_entropy) -> dict[str, float]:
    """Test accuracy (%) and mean test loss of one model, from one pass over the test set."""
    model.eval()
    logits = logits_of(model, {n: p.detach() for n, p in model.named_parameters()}, x)
    model.train()
    correct = (logits.argmax(1) == y).sum().item()
    mean_loss = loss(logits, y, reduction="none").mean().item()
    return {"test_accuracy": 100.0 * correct / len(y), "test_loss": mean_loss}


class SeedRun:
    """The bookkeeping of one seed's run: per-epoch train loss, a checkpoint and its test metrics at each of the
    last five epochs, then metrics.json (with the wall seconds since `started`) and its record."""

    def __init__(self, experiment: Experiment, seed: int, started: float, test_x: torch.Tensor, test_y: torch.Tensor,
                 measurement: Loss, **fields) -> None:
        self.experiment, self.seed, self.started = experiment, seed, started
        self.test_x, self.test_y, self.measurement = test_x, test_y, measurement
        self.metrics: dict = {"experiment": experiment.name, **fields, "seed": seed, "train_loss": [], "checkpoints": {}}

    def end_epoch(self, epoch: int, model: torch.nn.Module, optimizer, loss: float) -> None:
        self.metrics["train_loss"].append(loss)
        if epoch in self.experiment.checkpoint_epochs:
            save_checkpoint(self.experiment, self.seed, epoch, model, optimizer, loss)
            self.metrics["checkpoints"][str(epoch)] = evaluate(model, self.test_x, self.test_y, self.measurement)

    def finish(self) -> dict:
        experiment, seed, metrics = self.experiment, self.seed, self.metrics
        metrics["wall_seconds"] = time.perf_counter() - self.started
        save_json(metrics, experiment.metrics_path(seed))
        record_training(experiment, seed, experiment.metrics_path(seed), "metrics")
        last = metrics["checkpoints"][str(experiment.checkpoint_epochs[-1])]
        log.info("%s seed %d: test accuracy %.2f%%, loss %.4f", experiment.name, seed, last["test_accuracy"],
                 last["test_loss"])
        return metrics
