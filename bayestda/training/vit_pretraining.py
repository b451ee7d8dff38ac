"""Pretraining a small ViT backbone here, on MNIST images no experiment uses: the offline stand-in for the
paper's ImageNet-21k ViT-B/16 (docs/vit.md).

Supervised classification of all ten digits on the MNIST train images that are in no index list of any task,
with the same random resized crops the LoRA fine-tuning applies (the backbone sees the inputs it will be
fine-tuned on), AdamW with a linear warm-up and a cosine decay, a fixed seed. Only the backbone is saved
(`ViTModel`: `config.json` + `model.safetensors`, no classifier), as the in21k checkpoint holds none: every
experiment seed draws a fresh classifier and LoRA on top of it, as with the paper's weights. Each epoch ends
with a resumable state file, so an interrupted run continues from its last finished epoch.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from ..core.datasets import TASKS
from ..core.errors import BadInput, BayesTDAError
from ..core.io import file_hash, save_json
from ..core.tensor_io import save_torch
from ..data.subsets import load_pool, read_index_list
from ..data.vit_images import eval_transform, train_transform

log = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
RECORD_FILE = "pretraining.json"


@dataclass(frozen=True)
class PretrainSettings:
    """The backbone's architecture and its pretraining recipe (defaults: the shipped `mnist-pretrained`)."""

    hidden_size: int = 192
    num_layers: int = 2
    num_heads: int = 3
    intermediate_size: int = 768
    image_size: int = 28
    patch_size: int = 7
    epochs: int = 15
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    seed: int = 0
    train_items: int | None = None  # None: every unused train image (a smaller number: smoke tests)

    def check(self) -> PretrainSettings:
        """One line for a setting no ViT can have."""
        if min(self.hidden_size, self.num_layers, self.num_heads, self.intermediate_size, self.epochs, self.batch_size) < 1:
            raise BadInput("--hidden-size, --layers, --heads, --intermediate-size, --epochs and --batch-size must be >= 1")
        if self.hidden_size % self.num_heads:
            raise BadInput(f"--hidden-size {self.hidden_size} is not a multiple of --heads {self.num_heads}")
        if self.patch_size < 1 or self.image_size < self.patch_size or self.image_size % self.patch_size:
            raise BadInput(f"--image-size {self.image_size} does not fit --patch-size {self.patch_size}: "
                           "the image size must be a positive multiple of the patch size (e.g. 28 and 7)")
        if self.train_items is not None and self.train_items < self.batch_size:
            raise BadInput(f"--train-items {self.train_items} is smaller than --batch-size {self.batch_size}")
        return self

    def config(self):
        """The transformers ViTConfig of this architecture (ten labels: the pretraining classifier)."""
        import transformers  # noqa: PLC0415 (heavy and optional: only the ViT half needs it)

        return transformers.ViTConfig(hidden_size=self.hidden_size, num_hidden_layers=self.num_layers,
                                      num_attention_heads=self.num_heads, intermediate_size=self.intermediate_size,
                                      image_size=self.image_size, patch_size=self.patch_size, num_labels=10,
                                      attn_implementation="eager")


@dataclass
class History:
    """Per epoch: mean training loss and accuracy on the held-out MNIST test images; first steps' losses."""

    train_loss: list[float] = field(default_factory=list)
    heldout_accuracy: list[float] = field(default_factory=list)
    first_losses: list[float] = field(default_factory=list)


def _listed(split: str) -> set[int]:
    """Every MNIST index of a split that some task's index list names."""
    listed: set[int] = set()
    for name, spec in TASKS.items():
        if spec.dataset != "mnist":
            continue
        sizes = spec.sizes if split == "train" else (None,)
        for n in sizes:
            listed |= set(read_index_list(name, split, n).tolist())
    return listed


def unused_indices(split: str) -> np.ndarray:
    """MNIST indices of a split that no task's index list holds, ascending (train: pretraining; test: held out)."""
    total = 60000 if split == "train" else 10000
    listed = _listed(split)
    return np.array([i for i in range(total) if i not in listed], dtype=np.int64)


def _unused_images(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images, labels) of the MNIST split's unused indices, from the shipped full MNIST."""
    pool = load_pool("mnist", split, source="mnist-full")
    keep = unused_indices(split)
    return torch.from_numpy(pool.images[keep]), torch.from_numpy(pool.labels[keep]).long()


def lr_factor(step: int, total: int, warmup_fraction: float) -> float:
    """Linear warm-up to 1 over the first steps, then a cosine decay to 0."""
    warmup = max(1, round(total * warmup_fraction))
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def is_finished(out_dir: Path) -> bool:
    """Weights, config and record all there, the weights' hash the recorded one."""
    record, weights = out_dir / RECORD_FILE, out_dir / WEIGHTS_FILE
    if not (record.exists() and weights.exists() and (out_dir / "config.json").exists()):
        return False
    try:
        return json.loads(record.read_text()).get("sha256") == file_hash(weights)
    except (ValueError, OSError):
        return False


def _partial_path(out_dir: Path) -> Path:
    return out_dir.parent / f".{out_dir.name}.partial.pt"


def _heldout_accuracy(model, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(pixel_values=x[i : i + 1000]).logits.argmax(1) == y[i : i + 1000]).sum())
                      for i in range(0, len(y), 1000))
    model.train()
    return 100.0 * correct / len(y)


def _crops(images: torch.Tensor, size: int) -> torch.Tensor:
    """The fine-tuning's random resized crop of each image (torch's global RNG), stacked."""
    return torch.stack([train_transform(image, size) for image in images])


def _check_out_dir(out_dir: Path, overwrite: bool) -> Path:
    if is_finished(out_dir) and not overwrite:
        raise BayesTDAError(f"finished backbone weights exist in {out_dir}; pass --overwrite to pretrain them again")
    if out_dir.exists() and not out_dir.is_dir():
        raise BayesTDAError(f"{out_dir} is a file, not a folder for the backbone; pick another --out")
    return out_dir


def _resume(partial: Path, settings: PretrainSettings, model, optimizer, scheduler) -> tuple[History, int, float]:
    """Continue an interrupted run from its last finished epoch (the model, optimiser, schedule and RNG as saved):
    (history, first epoch to run, seconds so far); a fresh start where no run of these settings was cut short."""
    if not partial.exists():
        return History(), 0, 0.0
    state = torch.load(partial, weights_only=False)
    if state["settings"] != asdict(settings):
        log.info("ignoring %s: it was made with other settings", partial)
        return History(), 0, 0.0
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    log.info("resuming the pretraining after epoch %d (%s)", state["epoch"], partial)
    return History(**state["history"]), state["epoch"] + 1, state["seconds"]


def pretrain(out_dir: Path, settings: PretrainSettings = PretrainSettings(), overwrite: bool = False,
             command: str = "", show_progress: bool = True, stop_after_steps: int | None = None) -> dict:
    """Pretrain the backbone and save it to out_dir (config.json, model.safetensors, pretraining.json).

    `stop_after_steps` ends the run early and returns its history without writing anything: a test replays the
    first steps of the shipped run and compares their losses with the recorded ones."""
    import transformers  # noqa: PLC0415 (heavy and optional: only the ViT half needs it)

    settings.check()
    out_dir = _check_out_dir(Path(out_dir), overwrite)
    x_train, y_train = _unused_images("train")
    if settings.train_items is not None:
        x_train, y_train = x_train[: settings.train_items], y_train[: settings.train_items]
    heldout_images, heldout_y = _unused_images("test")
    heldout_x = eval_transform(heldout_images, settings.image_size)
    steps_per_epoch = math.ceil(len(y_train) / settings.batch_size)
    total = steps_per_epoch * settings.epochs

    torch.manual_seed(settings.seed)
    model = transformers.ViTForImageClassification(settings.config())
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total, settings.warmup_fraction))
    partial = _partial_path(out_dir)
    history, start_epoch, seconds = History(), 0, 0.0
    if stop_after_steps is None:
        history, start_epoch, seconds = _resume(partial, settings, model, optimizer, scheduler)

    model.train()
    started, step = time.perf_counter(), start_epoch * steps_per_epoch
    with tqdm(total=total, initial=start_epoch * steps_per_epoch, desc="ViT pretraining", unit="step",
              disable=not show_progress) as bar:
        for epoch in range(start_epoch, settings.epochs):
            order = torch.randperm(len(y_train))
            running = 0.0
            for i in range(0, len(order), settings.batch_size):
                batch = order[i : i + settings.batch_size]
                loss = F.cross_entropy(model(pixel_values=_crops(x_train[batch], settings.image_size)).logits, y_train[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                running += loss.item()
                if len(history.first_losses) < 20:
                    history.first_losses.append(loss.item())
                bar.update(1)
                step += 1
                if stop_after_steps is not None and step >= stop_after_steps:
                    return {"history": asdict(history)}
            history.train_loss.append(running / steps_per_epoch)
            history.heldout_accuracy.append(_heldout_accuracy(model, heldout_x, heldout_y))
            bar.set_postfix(epoch=epoch, loss=f"{history.train_loss[-1]:.3f}", heldout=f"{history.heldout_accuracy[-1]:.2f}%")
            save_torch({"settings": asdict(settings), "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(), "history": asdict(history),
                        "epoch": epoch, "seconds": seconds + time.perf_counter() - started}, partial)
    seconds += time.perf_counter() - started
    record = _save_backbone(model, out_dir, settings, history, seconds, command, len(y_train), len(heldout_y))
    partial.unlink(missing_ok=True)
    log.info("backbone saved to %s: held-out accuracy %.2f%%, %.0f s", out_dir, history.heldout_accuracy[-1], seconds)
    return record


def _save_backbone(model, out_dir: Path, settings: PretrainSettings, history: History, seconds: float, command: str,
                   train_items: int, heldout_items: int) -> dict:
    """The backbone alone (ViTModel, no classifier) and its record, written beside out_dir, then moved in place."""
    import transformers  # noqa: PLC0415 (heavy and optional: only the ViT half needs it)

    temporary = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        model.vit.save_pretrained(temporary)
        record = {"what": "ViT backbone pretrained by bayestda (run_vit_pretraining.py)", "command": command,
                  "settings": asdict(settings), "train_items": train_items, "heldout_items": heldout_items,
                  "history": asdict(history), "wall_seconds": round(seconds, 1), "torch_threads": torch.get_num_threads(),
                  "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                               "python": platform.python_version()},
                  "sha256": file_hash(temporary / WEIGHTS_FILE)}
        save_json(record, temporary / RECORD_FILE)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(temporary, out_dir)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        raise BayesTDAError(f"cannot write the backbone to {out_dir}: {error.strerror or error}") from None
    return record
