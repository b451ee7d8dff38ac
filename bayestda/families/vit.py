"""The paper's LoRA ViT as a model family: `vit` (a HuggingFace id or local directory, default the paper's
ImageNet-21k ViT-B/16), `vitmnist` (a small ViT pretrained here on unused MNIST digits), `vittiny` and
`vitrandom` (random backbones): named apart so that their results are never mistaken for the paper's."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..core.io import file_hash
from ..core.params import Params, detached_params
from ..data.subsets import Subset, phantom_draw
from ..data.vit_images import eval_transform, load_vit_data
from ..models.vit import WEIGHT_FILES, build_lora_vit, image_size_of, local_weights_dir, weights_for
from ..numerics.many_models import seeded
from .base import ModelFamily, Recipe
from .registry import register_family


class LoraViTFamily(ModelFamily):
    """LoRA (r=16, alpha=16, dropout 0.1 on query and value) on a ViT backbone, classifier trained in full;
    RGB images resized to the backbone's input size; fine-tuned with the linear lr decay and random crops."""

    scripts = "vit"
    model_flag = "--vit-weights"
    training_script = "run_vit_finetuning.py"
    trainer = "lora_vit"
    supports_lds = False  # its fine-tuning draws random crops, which the LDS retraining does not repeat
    recipe = Recipe(linear_decay=True)
    gpu_training = True
    reproduce_methods = ("loo_pretrained", "trak", "tracincp", "rps", "random", "same_class")  # and the controls
    damping_curve = False  # on request (run_damping.py): its cost on the ViT is not measured here
    lds_subsets = 0  # its fine-tuning draws random crops: the LDS retraining (the paper's CNN loop) does not apply

    def __init__(self, name: str) -> None:
        self.name = name

    def backbone(self, experiment) -> str:
        return weights_for(self.name, experiment.vit_weights)

    def backbone_fingerprint(self, experiment) -> str | None:
        """sha256 of a local backbone's weights (a re-pretrained backbone makes its fine-tuned seeds stale)."""
        folder = local_weights_dir(self.backbone(experiment))
        if folder is None:
            return None
        return next(file_hash(folder / name) for name in WEIGHT_FILES if (folder / name).is_file())

    def build_model(self, experiment) -> nn.Module:
        return build_lora_vit(self.backbone(experiment))

    def load_state(self, model: nn.Module, state: dict) -> None:
        model.load_state_dict(state, strict=False)  # the frozen backbone comes from the weight source

    def checkpoint_extras(self, experiment) -> dict:
        return {"backbone": self.backbone(experiment)}

    def fresh_start(self, experiment, seed: int) -> Callable[[], Params]:
        def make() -> Params:
            with seeded(seed):
                return detached_params(self.build_model(experiment))

        return make

    def load_data(self, experiment, net: nn.Module):
        return load_vit_data(experiment.task, experiment.num_per_class, image_size_of(net))

    def load_phantoms(self, experiment, net: nn.Module, train: Subset) -> Subset:
        images, labels, idx = phantom_draw(experiment.task, train, experiment.subset_seed)
        return Subset(eval_transform(torch.from_numpy(images), image_size_of(net)),
                      torch.from_numpy(labels.astype("int64")), torch.from_numpy(idx))

    def model_flag_value(self, experiment) -> str:
        return self.backbone(experiment)


for _name in ("vit", "vitmnist", "vittiny", "vitrandom"):
    register_family(LoraViTFamily(_name))
