"""Fine-tuning the LoRA ViT ensemble, one run per seed, as the paper's run_vit_training.py.

Order of random calls: torch.manual_seed(seed); build the model (new classifier, LoRA A matrices); then each
epoch the DataLoader's shuffle and one random resized crop per item. Adam(lr=1e-3, wd=5e-3) over the trainable
weights with a linear decay to 0 and no warm-up, batch 32, cross-entropy mean, dropout on.
Fixed here (docs/vit.md): a checkpoint after each of the last 5 epochs (the paper: 4, under another name than its
TDA scripts load), and evaluation on the deterministic resize (the paper's applied the random crop).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace

import torch
from torch.utils.data import DataLoader

from ..core.device import check_device
from ..core.io import save_json
from ..data.vit_images import AugmentedImages, load_images
from ..experiments.experiment import Experiment
from ..models.vit import image_size_of
from .checkpoints import build_model, record_training, save_checkpoint
from .ensemble import evaluate, is_trained

log = logging.getLogger(__name__)


def finetune_seed(experiment: Experiment, seed: int, overwrite: bool = False, device: str = "cpu", progress=None) -> dict:
    """Fine-tune one seed of a ViT experiment, saving the last five checkpoints and metrics.json."""
    check_device(device)
    if is_trained(experiment, seed) and not overwrite:
        log.info("skip %s seed %d: checkpoints exist (use --overwrite to retrain)", experiment.name, seed)
        return json.loads(experiment.metrics_path(seed).read_text())
    start = time.perf_counter()
    torch.manual_seed(seed)
    task = experiment.model_task
    model = build_model(experiment).to(device)
    size = image_size_of(model)
    train, test = task.load_data(experiment, model)
    augmented = AugmentedImages(load_images(experiment.task, "train", experiment.num_per_class), train.y, train.idx, size)
    loader = DataLoader(augmented, batch_size=task.recipe.batch_size, shuffle=True)
    adam = replace(task.recipe.adam, decay_steps=len(loader) * experiment.epochs if task.recipe.linear_decay else None)
    optimizer = adam.optimizer([p for p in model.parameters() if p.requires_grad])
    scheduler = adam.scheduler(optimizer)
    test_x, test_y = test.x.to(device), test.y.to(device)
    metrics: dict = {"experiment": experiment.name, "backbone": experiment.backbone, "seed": seed,
                     "train_loss": [], "checkpoints": {}}
    model.train()
    for epoch in range(experiment.epochs):
        running = 0.0
        for x, y, _ in loader:
            optimizer.zero_grad()
            loss = task.loss(model(x.to(device)), y.to(device))
            loss.backward()
            optimizer.step()
            scheduler.step()
            running += loss.item()
        metrics["train_loss"].append(running / len(loader))
        if epoch in experiment.checkpoint_epochs:
            save_checkpoint(experiment, seed, epoch, model, optimizer, running / len(loader))
            metrics["checkpoints"][str(epoch)] = evaluate(model, test_x, test_y, task.measurement)
        if progress is not None:
            progress.update(1)
    metrics["wall_seconds"] = time.perf_counter() - start
    save_json(metrics, experiment.metrics_path(seed))
    record_training(experiment, seed, experiment.metrics_path(seed), "metrics")
    last = metrics["checkpoints"][str(experiment.checkpoint_epochs[-1])]
    log.info("%s seed %d: test accuracy %.2f%%, loss %.4f", experiment.name, seed, last["test_accuracy"], last["test_loss"])
    return metrics
