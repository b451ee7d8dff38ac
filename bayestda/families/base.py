"""A model family as one object: a description of everything model-specific that training, TDA and the scripts
need (model, loss, data transform, recipe, which trainer by name, LDS support, how scripts name it).

The model-agnostic code (trainers, per-sample gradients, HVPs, every TDA method, the launcher) asks the
experiment's `ModelFamily` and never branches on the family. A new family is a subclass registered under the
model name of its experiments (`<model>_<task>_<n>pc`), in the spirit of kronfluence's `Task`. It names its
training loop (`trainer`), it does not call it: the producers (bayestda.training.loops) run it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from torch import nn

from ..core.datasets import TaskSpec
from ..core.losses import Loss, cross_entropy
from ..core.params import Params, detached_params
from ..data.subsets import Subset, load_experiment_data, load_phantoms
from ..numerics.many_models import AdamSettings, linear_decay_factor


class Experiment(Protocol):
    """What a model family reads of the experiment it is given (bayestda.experiments.Experiment, a higher layer,
    is what callers pass in)."""

    model: str
    task: str
    num_per_class: int
    vit_weights: str | None

    @property
    def spec(self) -> TaskSpec: ...


@dataclass(frozen=True)
class Recipe:
    """How a seed is trained: the paper's Adam(lr=1e-3, weight_decay=5e-3), batch 32, the data task's epochs
    (15 on MNIST, 30 on CIFAR-10) unless `epochs` is set, an optional linear lr decay to 0 (the paper's ViT)."""

    adam: AdamSettings = field(default_factory=AdamSettings)
    batch_size: int = 32
    epochs: int | None = None
    linear_decay: bool = False

    def adam_for(self, steps: int) -> AdamSettings:
        """The optimiser of a run of `steps` optimiser steps: the recipe's Adam, with its linear decay over them
        where the recipe has one."""
        return self.adam.over(steps if self.linear_decay else None)


def epoch_learning_rate(recipe: Recipe, epoch: int, epochs: int, steps_per_epoch: int) -> float:
    """The mean learning rate of the optimiser steps of one epoch (0-based): the recipe's lr, or under the linear
    decay (step s at lr·(T − s)/T, T = all steps) its mean over the epoch's steps. TracInCP's η for the
    checkpoint saved at the end of that epoch."""
    lr = recipe.adam.lr
    if not recipe.linear_decay:
        return lr
    total = max(1, steps_per_epoch * epochs)
    steps = range(epoch * steps_per_epoch, (epoch + 1) * steps_per_epoch)
    return lr * sum(linear_decay_factor(s, total) for s in steps) / len(steps)


class ModelFamily:
    """Everything model-specific of one model family (the defaults are the paper's CNN pipeline's).

    Override `build_model` at least. `loss` is the per-item training loss (training, train gradients, HVPs,
    retraining), `measurement` the per-item quantity attributed on test items (test gradients and losses).

    Args (class attributes, set by a subclass):
        name: the experiments' model name (`<name>_<task>_<n>pc`); register with `register_family(Family())`.
        scripts, model_flag, training_script: the per-seed script folder, the flag that names the model there,
            the training script (messages and the launcher build commands from them).
        trainer: the training loop by name (bayestda.training.loops): "paper" or "lora_vit", or one registered there.
        loss, measurement, recipe: the per-item losses and the training recipe (Adam, batch, epochs, lr decay).
        gpu_training, reproduce_methods, supports_lds, lds_subsets, damping_curve: launcher and `make reproduce` settings.

    Returns (of its methods): `build_model` a fresh model, `load_data` (train, test) Subsets, `epochs` the
    experiment's epochs; the others as their docstrings say.
    """

    name: str = ""  # the experiments' model name
    scripts: str = "cnn"  # script folder tda_<scripts>_scripts/
    model_flag: str = "--arch"  # how its scripts name the model: --arch <name>, or --vit-weights <weights>
    training_script: str = "run_cnn_training.py"
    trainer: str = "paper"  # the training loop, by name (bayestda.training.loops): "paper" (the CNN loop) or "lora_vit"
    loss: Loss = cross_entropy
    measurement: Loss = cross_entropy
    recipe: Recipe = Recipe()
    gpu_training: bool = False  # the launcher gives training jobs a GPU slot
    reproduce_methods: tuple[str, ...] = ()  # on-request methods the family's whole analysis adds (run_reproduce.py)
    supports_lds: bool = True  # the LDS retraining repeats the paper's loop: only for families trained by it
    lds_subsets: int = 100  # LDS subsets the whole analysis retrains (0: LDS on request only)
    damping_curve: bool = True  # the whole analysis adds the damping curve (run_damping.py) of its damped methods

    def variant(self) -> dict | None:
        """What makes this family a variant of another (architecture, width, recipe), recorded with its
        checkpoints; None for a family of its own."""
        return None

    # --- model ---------------------------------------------------------------------------------
    def build_model(self, experiment: Experiment) -> nn.Module:
        """A freshly initialised model (draws from torch's global RNG after torch.manual_seed(seed))."""
        raise NotImplementedError

    def trainable_params(self, model: nn.Module) -> Params:
        """The parameters TDA differentiates and retrains (all of a CNN's; LoRA and classifier of the ViT)."""
        return detached_params(model)

    def checkpoint_state(self, model: nn.Module) -> dict:
        """What a checkpoint stores: the whole state dict when every parameter trains, else the trainable tensors."""
        if all(p.requires_grad for p in model.parameters()):
            return model.state_dict()
        return dict(detached_params(model))

    def load_state(self, model: nn.Module, state: dict) -> None:
        model.load_state_dict(state, strict=True)

    def checkpoint_extras(self, experiment: Experiment) -> dict:
        """Extra entries of the checkpoint dict (the ViT's weight source)."""
        return {}

    def backbone(self, experiment: Experiment) -> str | None:
        """The pretrained weight source, where the family has one."""
        return None

    def backbone_fingerprint(self, experiment: Experiment) -> str | None:
        """A content hash of the pretrained weights where they are local files (recorded in the provenance)."""
        return None

    def fresh_start(self, experiment: Experiment, seed: int) -> Callable[[], Params] | None:
        """Trainable weights of the seeded, untrained model, for methods that retrain from scratch (loo_pretrained)."""
        return None

    # --- data and naming ------------------------------------------------------------------------
    def load_data(self, experiment: Experiment, net: nn.Module) -> tuple[Subset, Subset]:
        """(train, test) with the family's deterministic transform (default: the paper's CNN transform)."""
        return load_experiment_data(experiment.task, experiment.num_per_class, experiment.subset_seed)

    def load_phantoms(self, experiment: Experiment, net: nn.Module, train: Subset) -> Subset:
        """The phantom items of the experiment's training subset (held-out images scored as train items) in the
        family's deterministic transform (default: the paper's CNN transform)."""
        return load_phantoms(experiment.task, train, experiment.subset_seed)

    def epochs(self, experiment: Experiment) -> int:
        return self.recipe.epochs or experiment.spec.epochs

    def model_flag_value(self, experiment: Experiment) -> str:
        """The value of `model_flag` that names this experiment's model in the scripts (--arch cnn)."""
        return experiment.model
