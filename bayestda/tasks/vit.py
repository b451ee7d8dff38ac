"""The paper's LoRA ViT as a model task: `vit` (a HuggingFace id or local directory, default the paper's
ImageNet-21k ViT-B/16), `vittiny` and `vitrandom` (random backbones, named apart so that their results are
never mistaken for the paper's)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from torch import nn

from ..params import Params, detached_params
from ..training import seeded
from .base import ModelTask, Recipe
from .registry import register_task


class LoraViTTask(ModelTask):
    """LoRA (r=16, alpha=16, dropout 0.1 on query and value) on a ViT backbone, classifier trained in full;
    RGB images resized to the backbone's input size; fine-tuned with the linear lr decay and random crops."""

    scripts = "vit"
    recipe = Recipe(linear_decay=True)
    gpu_training = True

    def __init__(self, name: str) -> None:
        self.name = name

    def backbone(self, experiment) -> str:
        from ..models.vit import weights_for

        return weights_for(self.name, experiment.vit_weights)

    def build_model(self, experiment) -> nn.Module:
        from ..models.vit import build_lora_vit

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
        from ..models.vit import image_size_of
        from ..vit_data import load_vit_data

        return load_vit_data(experiment.task, experiment.num_per_class, image_size_of(net))

    def train_seed(self, experiment, seed: int, overwrite: bool = False, device: str = "cpu", progress=None) -> dict:
        from ..vit_finetuning import finetune_seed

        return finetune_seed(experiment, seed, overwrite=overwrite, device=device, progress=progress)

    @classmethod
    def add_model_flags(cls, parser: argparse.ArgumentParser) -> None:
        from ..models.vit import PAPER_WEIGHTS

        parser.add_argument("--vit-weights", default=PAPER_WEIGHTS,
                            help="HuggingFace model id or local directory (default: the paper's); random-tiny or "
                                 "random-base for random backbones (experiments vittiny_... / vitrandom_...)")

    @classmethod
    def model_of(cls, args: argparse.Namespace) -> tuple[str, str | None]:
        from ..models.vit import model_name_for

        return model_name_for(args.vit_weights), args.vit_weights

    def model_flags(self, experiment) -> list[str]:
        return ["--vit-weights", self.backbone(experiment)]

    def training_script(self) -> str:
        return "run_vit_finetuning.py"


for _name in ("vit", "vittiny", "vitrandom"):
    register_task(LoraViTTask(_name))
