"""The paper's LoRA ViT: `google/vit-base-patch16-224-in21k` with LoRA on the attention query and value.

LoRA r=16, alpha=16, dropout 0.1, bias none, classifier trained in full (peft `modules_to_save`), as the
paper's `vit_lora_model`. The backbone comes from `--vit-weights`:
- a HuggingFace model id (default the paper's; needs a network or a filled HF cache) or a local directory;
- `random-tiny`: a 2-layer ViT with random weights (tests, CPU demos), experiments named `vittiny_...`;
- `random-base`: the ViT-B/16 architecture with random weights (GPU timings without the hub), `vitrandom_...`;
- `mnist-pretrained`: a small ViT pretrained here on MNIST images no experiment uses (shipped in
  `data/backbones/mnist-pretrained`, made by `run_vit_pretraining.py`), experiments named `vitmnist_...`.
Random backbones are drawn from a fixed generator (seed 0), so every seed fine-tunes the same backbone.

transformers and peft are imported only here, so the CNN half never needs them. Attention runs in the
"eager" implementation: torch.func's vmap, jvp and jacrev all pass through it.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from ..core.errors import BadInput, BayesTDAError, MissingOutput
from ..core.paths import DATA_DIR

log = logging.getLogger(__name__)

PAPER_WEIGHTS = "google/vit-base-patch16-224-in21k"
RANDOM_WEIGHTS = {"random-tiny": "vittiny", "random-base": "vitrandom"}  # --vit-weights -> experiment model name
SHIPPED_WEIGHTS = {"mnist-pretrained": "vitmnist"}  # short names of backbones pretrained here, in data/backbones/
NAMED_WEIGHTS = RANDOM_WEIGHTS | SHIPPED_WEIGHTS
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
NUM_LABELS = 10
BACKBONE_SEED = 0  # random backbones are the same for every experiment seed


@dataclass(frozen=True)
class LoraSettings:
    """The paper's LoRA: r=16, alpha=16, dropout 0.1 on query and value, bias none, classifier trained."""

    r: int = 16
    alpha: int = 16
    dropout: float = 0.1


# Module names of the attention projections: transformers 4.x, then 5.x.
TARGET_SCHEMES = (("query", "value"), ("q_proj", "v_proj"))


def shipped_dir(weights: str) -> Path:
    """Folder of a backbone pretrained here (`mnist-pretrained` -> data/backbones/mnist-pretrained)."""
    return DATA_DIR / "backbones" / weights


def model_name_for(weights: str) -> str:
    """Experiment model name of a weight source: random and shipped backbones carry their own names, also when
    a shipped backbone is given by its folder."""
    if weights in NAMED_WEIGHTS:
        return NAMED_WEIGHTS[weights]
    for short, name in SHIPPED_WEIGHTS.items():
        if os.path.isdir(weights) and Path(weights).resolve() == shipped_dir(short).resolve():
            return name
    return "vit"


def weights_for(model: str, given: str | None = None) -> str:
    """The weight source of an experiment model name (`vit` takes the given source or the paper's)."""
    for weights, name in NAMED_WEIGHTS.items():
        if model == name:
            return weights
    return given or PAPER_WEIGHTS


def _import_hf():
    try:
        import peft  # noqa: PLC0415 (heavy and optional: only the ViT half needs it)
        import transformers  # noqa: PLC0415
    except (ImportError, RuntimeError) as error:  # torchvision built for another torch breaks both imports
        raise BayesTDAError(
            f"the ViT needs transformers and peft ({error}); run: pip install -r req.txt "
            "(and pip uninstall torchvision if it does not match the installed torch)"
        ) from None
    return transformers, peft


def lora_targets(model: nn.Module) -> list[str]:
    """Names of the attention query/value Linear layers, for both transformers module-name schemes."""
    leaves = {name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, nn.Linear) and "attention" in name}
    for scheme in TARGET_SCHEMES:
        if set(scheme) <= leaves:
            return list(scheme)
    raise BayesTDAError(f"no attention query/value layers found (looked for {TARGET_SCHEMES}); got {sorted(leaves)}")


def _config(weights: str):
    transformers, _ = _import_hf()
    common = dict(num_labels=NUM_LABELS, attn_implementation="eager")
    if weights == "random-tiny":
        return transformers.ViTConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                                      image_size=32, patch_size=8, **common)
    return transformers.ViTConfig(**common)  # ViT-B/16, 224 x 224: the in21k model's architecture


def _random_backbone(weights: str) -> nn.Module:
    """A ViT with random weights from a fixed generator, then a classifier drawn from the global RNG
    (as from_pretrained draws the new head of a pretrained backbone)."""
    transformers, _ = _import_hf()
    config = _config(weights)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(BACKBONE_SEED)
        model = transformers.ViTForImageClassification(config)
    with torch.no_grad():
        model.classifier.weight.normal_(0.0, config.initializer_range)
        model.classifier.bias.zero_()
    return model


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    """One quick connection to the hub (HF_ENDPOINT or huggingface.co): spares a minute of download retries offline."""
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout_s).close()
    except OSError:
        return False
    return True


def local_weights_dir(weights: str) -> Path | None:
    """The folder a weight source names (a shipped short name or a directory), checked; None for a hub id."""
    if weights in SHIPPED_WEIGHTS:
        folder = shipped_dir(weights)
        if not folder.is_dir():
            raise MissingOutput(f"missing backbone {weights!r} ({folder}); restore it (git checkout data) or make it: "
                                "python run_vit_pretraining.py")
    elif os.path.isdir(weights):
        folder = Path(weights)
    else:
        return None
    if not (folder / "config.json").is_file():
        raise BadInput(f"--vit-weights {weights}: {folder} has no config.json; a ViT weights folder holds "
                       "config.json and model.safetensors (as save_pretrained writes them)")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise BadInput(f"--vit-weights {weights}: {folder} has no model weights (looked for {', '.join(WEIGHT_FILES)})")
    return folder


def check_fits_images(config, weights: str) -> None:
    """The data are RGB images resized to the backbone's input size: refuse a backbone that cannot take them."""
    size, patch = getattr(config, "image_size", None), getattr(config, "patch_size", None)
    if not isinstance(size, int) or not isinstance(patch, int) or patch < 1 or size < patch or size % patch:
        raise BadInput(f"--vit-weights {weights}: image_size {size} does not fit patch_size {patch} (images are "
                       "resized to image_size, which must be a positive multiple of patch_size)")
    if getattr(config, "num_channels", 3) != 3:
        raise BadInput(f"--vit-weights {weights}: num_channels {config.num_channels}, but the images are RGB "
                       "(3 channels; grey digits are repeated over 3)")


def _quiet_load(load, source: str, **options) -> nn.Module:
    """from_pretrained without its load report (the new classifier is expected: the paper's draws one too)."""
    transformers, _ = _import_hf()
    verbosity, bars = transformers.logging.get_verbosity(), transformers.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        model = load(source, **options)
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.logging.enable_progress_bar()
    log.debug("ViT backbone %s loaded; classifier newly initialised (%d labels)", source, NUM_LABELS)
    return model


def _pretrained_backbone(weights: str) -> nn.Module:
    """from_pretrained from a local directory, or the HF cache first and the network only where allowed."""
    transformers, _ = _import_hf()
    load = transformers.ViTForImageClassification.from_pretrained
    options = dict(num_labels=NUM_LABELS, ignore_mismatched_sizes=True, attn_implementation="eager")
    folder = local_weights_dir(weights)
    if folder is not None:
        try:
            check_fits_images(transformers.ViTConfig.from_pretrained(folder), weights)
            return _quiet_load(load, str(folder), local_files_only=True, **options)
        except (OSError, ValueError, RuntimeError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise BadInput(f"--vit-weights {weights}: cannot load the ViT in {folder}: {first_line}") from None
    unavailable = (OSError, ValueError)  # ValueError: huggingface_hub's invalid repo id (a missing path, 4.x)
    try:
        return _quiet_load(load, weights, local_files_only=True, **options)
    except unavailable:
        if os.environ.get("HF_HUB_OFFLINE") != "1" and _hub_reachable():
            try:
                return _quiet_load(load, weights, **options)
            except unavailable:
                pass
    raise BayesTDAError(
        f"cannot load ViT weights {weights!r}: not in the HuggingFace cache and the hub is unreachable; "
        "options: --vit-weights <local directory with config.json and model weights>, a model id already in "
        "your HF cache, mnist-pretrained (a small ViT pretrained here on unused MNIST digits), random-tiny (small "
        "random ViT, tests and CPU demos) or random-base (ViT-B/16 with random weights)"
    )


class LogitsOnly(nn.Module):
    """Wraps a HF image classifier so that forward(x) returns the logits tensor, as the CNNs do."""

    def __init__(self, model: nn.Module, image_size: int) -> None:
        super().__init__()
        self.model = model
        self.image_size = image_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=x).logits


def build_lora_vit(weights: str = PAPER_WEIGHTS, lora: LoraSettings = LoraSettings()) -> LogitsOnly:
    """Backbone, then LoRA (its A matrices drawn from the global RNG); only LoRA and classifier train."""
    _, peft = _import_hf()
    backbone = _random_backbone(weights) if weights in RANDOM_WEIGHTS else _pretrained_backbone(weights)
    config = peft.LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, bias="none",
                             target_modules=lora_targets(backbone), modules_to_save=["classifier"])
    with warnings.catch_warnings():  # peft calls a transformers method deprecated in 5.x
        warnings.simplefilter("ignore", FutureWarning)
        model = peft.get_peft_model(backbone, config)
    return LogitsOnly(model, backbone.config.image_size)


def image_size_of(model: nn.Module) -> int:
    return model.image_size if isinstance(model, LogitsOnly) else 0
