"""Checkpoints in the paper's format: {'epoch', 'model_state_dict', 'optimizer_state_dict', 'loss'}.

CNN checkpoints hold the whole state dict, as the paper's; ViT checkpoints hold only the trainable LoRA
and classifier weights (plus 'backbone', the weight source), rebuilt on the backbone when loaded.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from .errors import BayesTDAError
from .experiment import Experiment, load_seeds
from .functional import Params, detached_params
from .io import save_torch
from .models import build_cnn

log = logging.getLogger(__name__)


def build_model(experiment: Experiment) -> nn.Module:
    """A fresh model of the experiment's family (draws its initial weights from the global RNG)."""
    if experiment.family == "vit":
        from .models.vit import build_lora_vit

        return build_lora_vit(experiment.backbone)
    return build_cnn(experiment.model, experiment.spec.channels)


def training_command(experiment: Experiment, seed: int) -> str:
    seed_id = load_seeds().index(seed) if seed in load_seeds() else seed
    flags = f"--task {experiment.task} --num_per_class {experiment.num_per_class} --seed_id {seed_id}"
    if experiment.family == "vit":
        return f"python run_vit_finetuning.py {flags} --vit-weights {experiment.backbone}"
    return f"python run_cnn_training.py --arch {experiment.model} {flags}"


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The whole state dict when every parameter trains (the CNNs), else only the trainable tensors."""
    if all(p.requires_grad for p in model.parameters()):
        return model.state_dict()
    return detached_params(model)


def save_checkpoint(experiment: Experiment, seed: int, epoch: int, model: nn.Module, optimizer, loss: float) -> None:
    blob = {
        "epoch": epoch,
        "model_state_dict": trainable_state(model),
        "optimizer_state_dict": optimizer.state_dict(),
        "loss": loss,
    }
    if experiment.backbone is not None:
        blob["backbone"] = experiment.backbone
    save_torch(blob, experiment.checkpoint_path(seed, epoch))


def missing_checkpoints(experiment: Experiment, seed: int) -> list[int]:
    return [e for e in experiment.checkpoint_epochs if not experiment.checkpoint_path(seed, e).exists()]


def load_checkpoint(experiment: Experiment, seed: int, epoch: int, device: str = "cpu") -> tuple[nn.Module, Params]:
    """(model in eval mode, its detached parameters) for one checkpoint, or a one-line error."""
    path = experiment.checkpoint_path(seed, epoch)
    if not path.exists():
        raise BayesTDAError(f"missing checkpoint {path}; run: {training_command(experiment, seed)}")
    blob = torch.load(path, map_location=device)
    if blob.get("backbone", experiment.backbone) != experiment.backbone:
        log.warning("%s was fine-tuned on backbone %r, loading it on %r", path, blob["backbone"], experiment.backbone)
    with torch.random.fork_rng(devices=[]):  # building the template must not move the global RNG
        model = build_model(experiment).to(device)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    missing = trainable - set(blob["model_state_dict"])
    if missing:
        raise BayesTDAError(f"checkpoint {path} lacks {len(missing)} trainable tensors (e.g. {min(missing)}); "
                            f"retrain with: {training_command(experiment, seed)}")
    model.load_state_dict(blob["model_state_dict"], strict=experiment.family == "cnn")
    model.eval()
    params = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    return model, params
