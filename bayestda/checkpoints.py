"""Checkpoints in the paper's format: {'epoch', 'model_state_dict', 'optimizer_state_dict', 'loss'}."""

from __future__ import annotations

import torch
from torch import nn

from .errors import BayesTDAError
from .experiment import Experiment, load_seeds
from .functional import Params
from .io import save_torch
from .models import build_cnn


def build_model(experiment: Experiment) -> nn.Module:
    """A fresh model of the experiment's family (draws its initial weights from the global RNG)."""
    return build_cnn(experiment.model, experiment.spec.channels)


def training_command(experiment: Experiment, seed: int) -> str:
    seed_id = load_seeds().index(seed) if seed in load_seeds() else seed
    return (
        f"python run_cnn_training.py --arch {experiment.model} --task {experiment.task} "
        f"--num_per_class {experiment.num_per_class} --seed_id {seed_id}"
    )


def save_checkpoint(experiment: Experiment, seed: int, epoch: int, model: nn.Module, optimizer, loss: float) -> None:
    blob = {
        "epoch": epoch,
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "loss": loss,
    }
    save_torch(blob, experiment.checkpoint_path(seed, epoch))


def missing_checkpoints(experiment: Experiment, seed: int) -> list[int]:
    return [e for e in experiment.checkpoint_epochs if not experiment.checkpoint_path(seed, e).exists()]


def load_checkpoint(experiment: Experiment, seed: int, epoch: int, device: str = "cpu") -> tuple[nn.Module, Params]:
    """(model in eval mode, its detached parameters) for one checkpoint, or a one-line error."""
    path = experiment.checkpoint_path(seed, epoch)
    if not path.exists():
        raise BayesTDAError(f"missing checkpoint {path}; run: {training_command(experiment, seed)}")
    blob = torch.load(path, map_location=device)
    with torch.random.fork_rng(devices=[]):  # building the template must not move the global RNG
        model = build_model(experiment).to(device)
    model.load_state_dict(blob["model_state_dict"])
    model.eval()
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    return model, params
