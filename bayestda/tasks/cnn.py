"""The paper's CNNs as model tasks: `cnn` (2-layer, the paper's main model) and `cnn3` (3-layer)."""

from __future__ import annotations

from torch import nn

from ..models.cnn import build_cnn
from .base import ModelTask
from .registry import register_task


class CNNTask(ModelTask):
    """A paper CNN on the task's images (1 or 3 channels), trained with the paper's loop (the base recipe)."""

    reproduce_methods = ("trak", "tracincp", "rps", "ekfac", "arnoldi", "random", "same_class")  # beside the paper's, and controls

    def __init__(self, name: str) -> None:
        self.name = name

    def build_model(self, experiment) -> nn.Module:
        return build_cnn(self.name, experiment.spec.channels)


register_task(CNNTask("cnn"))
register_task(CNNTask("cnn3"))
