"""The paper's LoRA ViT: `google/vit-base-patch16-224-in21k` with LoRA on the attention query and value.

LoRA r=16, alpha=16, dropout 0.1, bias none, classifier trained in full (peft `modules_to_save`), as the
paper's `vit_lora_model`. The backbone comes from `--vit-weights`:
- a HuggingFace model id (default the paper's; needs a network or a filled HF cache) or a local directory;
- `random-tiny`: a 2-layer ViT with random weights (tests, CPU demos), experiments named `vittiny_...`;
- `random-base`: the ViT-B/16 architecture with random weights (GPU timings without the hub), `vitrandom_...`.
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
from urllib.parse import urlparse

import torch
from torch import nn

from ..errors import BayesTDAError

log = logging.getLogger(__name__)

PAPER_WEIGHTS = "google/vit-base-patch16-224-in21k"
RANDOM_WEIGHTS = {"random-tiny": "vittiny", "random-base": "vitrandom"}  # --vit-weights -> experiment model name
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


def model_name_for(weights: str) -> str:
    """Experiment model name of a weight source: random backbones carry their own names."""
    return RANDOM_WEIGHTS.get(weights, "vit")


def weights_for(model: str, given: str | None = None) -> str:
    """The weight source of an experiment model name (`vit` takes the given source or the paper's)."""
    for weights, name in RANDOM_WEIGHTS.items():
        if model == name:
            return weights
    return given or PAPER_WEIGHTS


def _import_hf():
    try:
        import peft
        import transformers
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


def _pretrained_backbone(weights: str) -> nn.Module:
    """from_pretrained from the HF cache or a local directory first; the network only where allowed."""
    transformers, _ = _import_hf()
    load = transformers.ViTForImageClassification.from_pretrained
    options = dict(num_labels=NUM_LABELS, ignore_mismatched_sizes=True, attn_implementation="eager")
    unavailable = (OSError, ValueError)  # ValueError: huggingface_hub's invalid repo id (a missing path, 4.x)
    try:
        return load(weights, local_files_only=True, **options)
    except unavailable:
        if not (os.path.isdir(weights) or os.environ.get("HF_HUB_OFFLINE") == "1") and _hub_reachable():
            try:
                return load(weights, **options)
            except unavailable:
                pass
    raise BayesTDAError(
        f"cannot load ViT weights {weights!r}: not in the HuggingFace cache and the hub is unreachable; "
        "options: --vit-weights <local directory with config.json and model weights>, a model id already in "
        "your HF cache, random-tiny (small random ViT, tests and CPU demos) or random-base (ViT-B/16 with random weights)"
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
