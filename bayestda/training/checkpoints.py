"""Checkpoints in the paper's format: {'epoch', 'model_state_dict', 'optimizer_state_dict', 'loss'}.

What a checkpoint holds is the model family's choice: the CNNs store the whole state dict, as the paper's; the
ViT stores only the trainable LoRA and classifier weights (plus 'backbone', the weight source), rebuilt on
the backbone when loaded.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

import torch
from torch import nn

from .. import provenance
from ..core.device import check_device
from ..core.errors import CorruptOutput, MissingOutput, UnrecordedOutput
from ..core.io import file_hash
from ..core.params import Params
from ..core.tensor_io import save_torch, tensor_hash
from ..data.subsets import load_subset, subset_path
from ..experiments.commands import training_command
from ..experiments.experiment import Experiment

log = logging.getLogger(__name__)

TRAINING_VERSION = "1"  # bump when training changes numbers


def build_model(experiment: Experiment) -> nn.Module:
    """A fresh model of the experiment's family (draws its initial weights from the global RNG)."""
    return experiment.family.build_model(experiment)


def parameter_count(experiment: Experiment) -> int:
    """The number of parameters of the experiment's model (what cost estimates scale by)."""
    return sum(p.numel() for p in build_model(experiment).parameters())


# --- what a seed's training is made from (its checkpoints' and metrics' records) ------------------------------
_data: dict[tuple, dict] = {}


def data_hashes(experiment: Experiment) -> dict:
    """Content hashes of the experiment's train and test subsets (cached per subset file version)."""
    r = experiment.subset_seed
    files = [subset_path(experiment.task, "train", experiment.num_per_class, r),
             subset_path(experiment.task, "test", subset_seed=r)]
    key = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) if f.exists() else (str(f),) for f in files)
    if key not in _data:
        train = load_subset(experiment.task, "train", experiment.num_per_class, r)
        test = load_subset(experiment.task, "test", subset_seed=r)
        _data[key] = {"train": tensor_hash(train.x, train.y, train.idx), "test": tensor_hash(test.x, test.y, test.idx)}
    return _data[key]


def training_inputs(experiment: Experiment, seed: int) -> dict:
    """What a seed's checkpoints are made from: the data, the model family and its recipe, the seed."""
    family = experiment.family
    recipe = asdict(family.recipe)
    recipe["epochs"] = experiment.epochs
    inputs = {"data": data_hashes(experiment), "model": experiment.model, "backbone": experiment.backbone,
              "loss": family.loss.name, "recipe": recipe, "seed": seed, "training_version": TRAINING_VERSION}
    variant = family.variant()
    if variant is not None:  # only variants have one: the paper's families' records stay as they were
        inputs["variant"] = variant
    fingerprint = family.backbone_fingerprint(experiment)
    if fingerprint is not None:  # only local weights have one: other records stay as they were
        inputs["backbone_sha256"] = fingerprint
    return inputs


SAMPLING_VERSION = "1"  # bump when a sampler's draws change numbers


def sampling_inputs(experiment: Experiment, seed: int, settings: dict | None) -> dict:
    """What a drawing sampler's samples of a seed are made from: the seed's training and its kept checkpoints (by
    hash: retraining makes the samples stale), the sampler and its settings."""
    base = experiment.base
    kept = {str(e): file_hash(base.checkpoint_path(seed, e)) if base.checkpoint_path(seed, e).exists() else None
            for e in base.checkpoint_epochs}
    return {"posterior_of": training_inputs(base, seed), "checkpoints": kept, "sampler": experiment.sampler,
            "settings": settings, "sampling_version": SAMPLING_VERSION}


def record_training(experiment: Experiment, seed: int, path, kind: str, epoch: int | None = None,
                    sampler_settings: dict | None = None) -> None:
    """Record a checkpoint (kind 'checkpoint') or a seed's metrics.json (kind 'metrics') just written; a drawn
    sample's record carries its sampler's settings."""
    if experiment.draws_samples:
        what = experiment.record_what(kind, seed=seed, epoch=epoch, sampler_settings=sampler_settings or {})
        provenance.write(path, what, sampling_inputs(experiment, seed, sampler_settings or {}))
        return
    provenance.write(path, experiment.record_what(kind, seed=seed, epoch=epoch), training_inputs(experiment, seed))


def _training_inputs_of(what: dict) -> dict:
    experiment = Experiment.from_record(what)
    if experiment.draws_samples:
        return sampling_inputs(experiment, what["seed"], what.get("sampler_settings") or {})
    return training_inputs(experiment, what["seed"])


CHECKPOINT_KIND = provenance.declare(provenance.Kind("checkpoint", _training_inputs_of,
                                   lambda w: Experiment.from_record(w).checkpoint_path(w["seed"], w["epoch"])))
METRICS_KIND = provenance.declare(provenance.Kind("metrics", _training_inputs_of,
                                   lambda w: Experiment.from_record(w).metrics_path(w["seed"])))


def save_checkpoint(experiment: Experiment, seed: int, epoch: int, model: nn.Module, optimizer, loss: float) -> None:
    family = experiment.family
    blob = {
        "epoch": epoch,
        "model_state_dict": family.checkpoint_state(model),
        "optimizer_state_dict": optimizer.state_dict(),
        "loss": loss,
        **family.checkpoint_extras(experiment),
    }
    path = experiment.checkpoint_path(seed, epoch)
    save_torch(blob, path)
    record_training(experiment, seed, path, "checkpoint", epoch)


def load_checkpoint(experiment: Experiment, seed: int, epoch: int, device: str = "cpu") -> tuple[nn.Module, Params]:
    """(model in eval mode, its detached trainable parameters) for one checkpoint, or a one-line error."""
    check_device(device)  # an unavailable device is not a bad checkpoint
    path = experiment.checkpoint_path(seed, epoch)
    if not path.exists():
        what = "sample" if experiment.draws_samples else "checkpoint"
        raise MissingOutput(f"missing {what} {path}; run: {training_command(experiment, seed)}")
    remake = f"retrain with: {training_command(experiment, seed)} --overwrite"
    try:
        blob = torch.load(path, map_location=device)
    except Exception as error:  # noqa: BLE001 (truncated, empty or not a torch file: torch raises many kinds)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CorruptOutput(f"checkpoint {path} cannot be read ({reason}); {remake}") from None
    if not isinstance(blob, dict) or not isinstance(blob.get("model_state_dict"), dict):
        raise CorruptOutput(f"{path} is not a checkpoint of this repository (no model_state_dict); {remake}")
    stale = provenance.problem(path)
    if stale is not None and not isinstance(stale, UnrecordedOutput):
        raise type(stale)(f"checkpoint {path} is {stale}; {remake}")
    if blob.get("backbone", experiment.backbone) != experiment.backbone:
        log.warning("%s was fine-tuned on backbone %r, loading it on %r", path, blob["backbone"], experiment.backbone)
    family = experiment.family
    with torch.random.fork_rng(devices=[]):  # building the template must not move the global RNG
        model = build_model(experiment).to(device)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    missing = trainable - set(blob["model_state_dict"])
    if missing:
        raise CorruptOutput(f"checkpoint {path} lacks {len(missing)} trainable tensors (e.g. {min(missing)}); {remake}")
    try:
        family.load_state(model, blob["model_state_dict"])
    except RuntimeError as error:  # another architecture: shapes or names differ
        raise CorruptOutput(f"checkpoint {path} does not fit the {experiment.model} model "
                            f"({str(error).strip().splitlines()[-1].strip()}); {remake}") from None
    model.eval()
    params = {n: p.detach().clone() for n, p in family.trainable_params(model).items()}
    return model, params
