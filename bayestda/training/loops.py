"""The training loops by name: a model family names its trainer (ModelFamily.trainer), this module runs it.

"paper" is the paper's CNN loop (bayestda.training.ensemble), "lora_vit" the paper's LoRA ViT fine-tuning
(bayestda.training.vit_finetuning). A family with a loop of its own registers it here under a new name.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.errors import BadInput
from ..experiments.experiment import Experiment
from .ensemble import train_seed as train_paper_loop
from .vit_finetuning import finetune_seed

Trainer = Callable[..., dict]  # (experiment, seed, overwrite=, device=, progress=) -> metrics

_TRAINERS: dict[str, Trainer] = {"paper": train_paper_loop, "lora_vit": finetune_seed}


def register_trainer(name: str, trainer: Trainer) -> Trainer:
    """Add (or replace) a training loop under a name that model families can give as `trainer`."""
    _TRAINERS[name] = trainer
    return trainer


def train_seed(experiment: Experiment, seed: int, overwrite: bool = False, device: str = "cpu", progress=None) -> dict:
    """Train one seed of an experiment with its family's trainer (skipped when its checkpoints are current).

    Args:
        experiment: the experiment (its model family names the trainer).
        seed: the seed (e.g. 446), not its position.
        overwrite: retrain even where the checkpoints are current.
        device: torch device.
        progress: a tqdm bar to advance by one per epoch.

    Returns:
        The seed's metrics (metrics.json): train loss per epoch, test accuracy and loss per checkpoint.
    """
    name = experiment.family.trainer
    if name not in _TRAINERS:
        raise BadInput(f"model family {experiment.model!r} names trainer {name!r}; registered: {', '.join(_TRAINERS)}")
    return _TRAINERS[name](experiment, seed, overwrite=overwrite, device=device, progress=progress)
