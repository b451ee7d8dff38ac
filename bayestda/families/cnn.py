"""The paper's CNNs as model families: `cnn` (2-layer, the paper's main model) and `cnn3` (3-layer), and the
variants of the fragility study (Basu et al. 2021: influence depends on depth, width and weight decay), each a
family of its own so that its experiments, files and records are its own: `cnn-wd0` and `cnn-wd10x` (weight
decay 0 and 5e-2 instead of 5e-3), `cnn-halfwidth` and `cnn-doublewidth` (every hidden width x0.5, x2); and
the data-size study's matched optimisation, `cnn-e30` (30 epochs) and `cnn-b64` (batch 64)."""

from __future__ import annotations

from dataclasses import replace

from torch import nn

from ..models.cnn import build_cnn
from .base import ModelFamily, Recipe
from .registry import register_family


class CNNFamily(ModelFamily):
    """A paper CNN on the task's images (1 or 3 channels), trained with the paper's loop (the base recipe, or
    another weight decay); `architecture` and `width` choose the network."""

    reproduce_methods = ("trak", "tracincp", "rps", "ekfac", "arnoldi", "random", "same_class")  # beside the paper's, and controls

    def __init__(self, name: str, architecture: str | None = None, width: float = 1.0,
                 weight_decay: float | None = None, epochs: int | None = None, batch_size: int | None = None) -> None:
        self.name = name
        self.architecture = architecture or name
        self.width = width
        self.weight_decay = weight_decay
        self.changes_recipe = epochs is not None or batch_size is not None
        recipe = Recipe()
        if weight_decay is not None:
            recipe = replace(recipe, adam=replace(recipe.adam, weight_decay=weight_decay))
        if epochs is not None:
            recipe = replace(recipe, epochs=epochs)
        if batch_size is not None:
            recipe = replace(recipe, batch_size=batch_size)
        if weight_decay is not None or self.changes_recipe:
            self.recipe = recipe

    def build_model(self, experiment) -> nn.Module:
        return build_cnn(self.architecture, experiment.spec.channels, self.width)

    def variant(self) -> dict | None:
        """What makes this family a variant of the paper's (recorded with its checkpoints); None for cnn, cnn3."""
        if self.architecture == self.name and self.width == 1.0 and self.weight_decay is None \
                and not self.changes_recipe:
            return None
        variant = {"architecture": self.architecture, "width": self.width, "weight_decay": self.recipe.adam.weight_decay}
        if self.changes_recipe:  # recorded only where changed: the fragility variants' records stay as they were
            variant.update(epochs=self.recipe.epochs, batch_size=self.recipe.batch_size)
        return variant


register_family(CNNFamily("cnn"))
register_family(CNNFamily("cnn3"))
register_family(CNNFamily("cnn-wd0", "cnn", weight_decay=0.0))
register_family(CNNFamily("cnn-wd10x", "cnn", weight_decay=5e-2))
register_family(CNNFamily("cnn-halfwidth", "cnn", width=0.5))
register_family(CNNFamily("cnn-doublewidth", "cnn", width=2.0))
# the data-size study's matched optimisation: 30 images for 30 epochs (30 full-batch steps, as 60 images' 15 epochs
# of two minibatches), and 60 images in one full batch of 64 (15 full-batch steps, as 30 images')
register_family(CNNFamily("cnn-e30", "cnn", epochs=30))
register_family(CNNFamily("cnn-b64", "cnn", batch_size=64))
