"""The paper's LoRA ViT as a model task: `vit` (a HuggingFace id or local directory, default the paper's
ImageNet-21k ViT-B/16), `vitmnist` (a small ViT pretrained here on unused MNIST digits), `vittiny` and
`vitrandom` (random backbones): named apart so that their results are never mistaken for the paper's."""

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
    reproduce_methods = ("loo_pretrained", "trak", "tracincp", "rps")  # the paper's ViT LOO and the methods on request
    lds_subsets = 0  # its fine-tuning draws random crops: the LDS retraining (the paper's CNN loop) does not apply

    def __init__(self, name: str) -> None:
        self.name = name

    def backbone(self, experiment) -> str:
        from ..models.vit import weights_for

        return weights_for(self.name, experiment.vit_weights)

    def backbone_fingerprint(self, experiment) -> str | None:
        """sha256 of a local backbone's weights (a re-pretrained backbone makes its fine-tuned seeds stale)."""
        from ..models.vit import WEIGHT_FILES, local_weights_dir
        from ..provenance import file_hash

        folder = local_weights_dir(self.backbone(experiment))
        if folder is None:
            return None
        return next(file_hash(folder / name) for name in WEIGHT_FILES if (folder / name).is_file())

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
                            help="HuggingFace model id or local directory (default: the paper's); mnist-pretrained for the "
                                 "small ViT pretrained here on unused MNIST digits (experiments vitmnist_...); random-tiny "
                                 "or random-base for random backbones (vittiny_... / vitrandom_...)")

    @classmethod
    def model_of(cls, args: argparse.Namespace) -> tuple[str, str | None]:
        from ..models.vit import model_name_for

        return model_name_for(args.vit_weights), args.vit_weights

    def model_flags(self, experiment) -> list[str]:
        return ["--vit-weights", self.backbone(experiment)]

    def training_script(self) -> str:
        return "run_vit_finetuning.py"


for _name in ("vit", "vitmnist", "vittiny", "vitrandom"):
    register_task(LoraViTTask(_name))
