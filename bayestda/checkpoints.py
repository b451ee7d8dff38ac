"""Checkpoints in the paper's format: {'epoch', 'model_state_dict', 'optimizer_state_dict', 'loss'}.

What a checkpoint holds is the model task's choice: the CNNs store the whole state dict, as the paper's; the
ViT stores only the trainable LoRA and classifier weights (plus 'backbone', the weight source), rebuilt on
the backbone when loaded.
"""

from __future__ import annotations

import logging
import shlex

import torch
from torch import nn

from . import provenance
from .device import check_device
from .errors import BayesTDAError
from .experiment import Experiment, seed_id_of
from .io import save_torch
from .params import Params

log = logging.getLogger(__name__)


def build_model(experiment: Experiment) -> nn.Module:
    """A fresh model of the experiment's family (draws its initial weights from the global RNG)."""
    return experiment.model_task.build_model(experiment)


def seed_flags(experiment: Experiment, seed: int) -> list[str]:
    """The flags that name an experiment's model, data and seed in every per-seed script."""
    return [*experiment.model_task.model_flags(experiment), "--task", experiment.task,
            "--num_per_class", str(experiment.num_per_class), "--seed_id", str(seed_id_of(seed))]


def training_argv(experiment: Experiment, seed: int) -> list[str]:
    """The training script call (relative to the repository root) for one seed."""
    return [experiment.model_task.training_script(), *seed_flags(experiment, seed)]


def training_command(experiment: Experiment, seed: int) -> str:
    """The training command as a user types it (for messages)."""
    return shlex.join(["python", *training_argv(experiment, seed)])


def save_checkpoint(experiment: Experiment, seed: int, epoch: int, model: nn.Module, optimizer, loss: float) -> None:
    task = experiment.model_task
    blob = {
        "epoch": epoch,
        "model_state_dict": task.checkpoint_state(model),
        "optimizer_state_dict": optimizer.state_dict(),
        "loss": loss,
        **task.checkpoint_extras(experiment),
    }
    path = experiment.checkpoint_path(seed, epoch)
    save_torch(blob, path)
    provenance.record_training(experiment, seed, path, "checkpoint", epoch)


def load_checkpoint(experiment: Experiment, seed: int, epoch: int, device: str = "cpu") -> tuple[nn.Module, Params]:
    """(model in eval mode, its detached trainable parameters) for one checkpoint, or a one-line error."""
    check_device(device)  # an unavailable device is not a bad checkpoint
    path = experiment.checkpoint_path(seed, epoch)
    if not path.exists():
        raise BayesTDAError(f"missing checkpoint {path}; run: {training_command(experiment, seed)}")
    remake = f"retrain with: {training_command(experiment, seed)} --overwrite"
    try:
        blob = torch.load(path, map_location=device)
    except Exception as error:  # noqa: BLE001 (truncated, empty or not a torch file: torch raises many kinds)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BayesTDAError(f"checkpoint {path} cannot be read ({reason}); {remake}") from None
    if not isinstance(blob, dict) or not isinstance(blob.get("model_state_dict"), dict):
        raise BayesTDAError(f"{path} is not a checkpoint of this repository (no model_state_dict); {remake}")
    stale = provenance.problem(path)
    if stale not in (None, provenance.UNRECORDED):
        raise BayesTDAError(f"checkpoint {path} is {stale}; {remake}")
    if blob.get("backbone", experiment.backbone) != experiment.backbone:
        log.warning("%s was fine-tuned on backbone %r, loading it on %r", path, blob["backbone"], experiment.backbone)
    task = experiment.model_task
    with torch.random.fork_rng(devices=[]):  # building the template must not move the global RNG
        model = build_model(experiment).to(device)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    missing = trainable - set(blob["model_state_dict"])
    if missing:
        raise BayesTDAError(f"checkpoint {path} lacks {len(missing)} trainable tensors (e.g. {min(missing)}); {remake}")
    try:
        task.load_state(model, blob["model_state_dict"])
    except RuntimeError as error:  # another architecture: shapes or names differ
        raise BayesTDAError(f"checkpoint {path} does not fit the {experiment.model} model "
                            f"({str(error).strip().splitlines()[-1].strip()}); {remake}") from None
    model.eval()
    params = {n: p.detach().clone() for n, p in task.trainable_params(model).items()}
    return model, params
