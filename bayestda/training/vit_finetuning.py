"""Fine-tuning the LoRA ViT ensemble, one run per seed, as the paper's run_vit_training.py.

Order of random calls: torch.manual_seed(seed); build the model (new classifier, LoRA A matrices); then each
epoch the DataLoader's shuffle and one random resized crop per item. Adam(lr=1e-3, wd=5e-3) over the trainable
weights with a linear decay to 0 and no warm-up, batch 32, cross-entropy mean, dropout on.
Fixed here (docs/vit.md): a checkpoint after each of the last 5 epochs (the paper: 4, under another name than its
TDA scripts load), and evaluation on the deterministic resize (the paper's applied the random crop).
"""

from __future__ import annotations

import time

import torch
from torch.utils.data import DataLoader

from ..core.device import check_device
from ..data.vit_images import AugmentedImages, load_images
from ..experiments.experiment import Experiment
from ..models.vit import image_size_of
from .checkpoints import build_model
from .seed_run import SeedRun, trained_metrics


def finetune_seed(experiment: Experiment, seed: int, overwrite: bool = False, device: str = "cpu", progress=None) -> dict:
    """Fine-tune one seed of a ViT experiment, saving the last five checkpoints and metrics.json."""
    check_device(device)
    done = trained_metrics(experiment, seed, overwrite)
    if done is not None:
        return done
    start = time.perf_counter()
    torch.manual_seed(seed)
    family = experiment.family
    model = build_model(experiment).to(device)
    size = image_size_of(model)
    train, test = family.load_data(experiment, model)
    augmented = AugmentedImages(load_images(experiment.task, "train", experiment.num_per_class), train.y, train.idx, size)
    loader = DataLoader(augmented, batch_size=family.recipe.batch_size, shuffle=True)
    adam = family.recipe.adam_for(len(loader) * experiment.epochs)
    optimizer = adam.optimizer([p for p in model.parameters() if p.requires_grad])
    scheduler = adam.scheduler(optimizer)
    run = SeedRun(experiment, seed, start, test.x.to(device), test.y.to(device), family.measurement,
                  backbone=experiment.backbone)
    model.train()
    for epoch in range(experiment.epochs):
        running = 0.0
        for x, y, _ in loader:
            optimizer.zero_grad()
            loss = family.loss(model(x.to(device)), y.to(device))
            loss.backward()
            optimizer.step()
            scheduler.step()
            running += loss.item()
        run.end_epoch(epoch, model, optimizer, running / len(loader))
        if progress is not None:
            progress.update(1)
    return run.finish()
