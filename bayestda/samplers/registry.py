"""The sampler registry: each posterior sampler declared once, with its settings and what it supports."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.errors import BadInput
from ..core.losses import Loss, cross_entropy
from ..core.params import Params
from ..core.plugins import load_plugins
from ..core.settings import with_text

DEFAULT_SAMPLER = "seeds-x-checkpoints"
SAMPLES_PER_SEED = 5  # a drawing sampler's samples per seed: the paper's K, so that every table has the same shape
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass(frozen=True)
class SamplerInput:
    """What a drawing sampler starts from for one seed: the model, the seed's kept checkpoints (oldest first; the
    last is the trained model), the training data, its loss and weight decay, and the seed (its RNG)."""

    net: nn.Module
    snapshots: list[Params]
    train_x: torch.Tensor
    train_y: torch.Tensor
    weight_decay: float
    seed: int
    loss: Loss = cross_entropy

    @property
    def final(self) -> Params:
        return self.snapshots[-1]

    @property
    def prior_precision(self) -> float:
        """The Gaussian prior's precision in the summed-loss units: N·weight decay (Adam's coupled L2 on the mean)."""
        return len(self.train_y) * self.weight_decay


Arrangement = tuple[np.ndarray, list, list]  # values [samples, K, n_train, n_test], sample names, checkpoint names


@dataclass(frozen=True)
class Sampler:
    """One posterior sampler.

    Args:
        name: lower-case letters, digits and '-' (experiment names end in `_<name>`; the default has no suffix).
        description: one line for `describe()`.
        draw: (SamplerInput, settings) -> SAMPLES_PER_SEED parameter sets; None for a view of the paper's checkpoints.
        arrange: (values [seeds, checkpoints, n, m], seeds, checkpoints) -> the posterior samples; a view's whole job.
        settings: a frozen dataclass of what changes its samples (recorded with every sample), or None.
        trainers: the training loops (ModelFamily.trainer) whose families it supports; None: every family.
        seeds, checkpoints, methods: a slice of the paper's posterior (`quick`): its first seeds, last checkpoints
            and methods, planned, scored and analysed alone (its score files are the paper's own, made only there).
    """

    name: str
    description: str
    draw: Callable[[SamplerInput, Any], list[Params]] | None = None
    arrange: Callable[[np.ndarray, list, list], Arrangement] | None = None
    settings: Any = None
    trainers: tuple[str, ...] | None = None
    seeds: int | None = None  # a slice (view): the first n seeds only (None: every seed)
    checkpoints: int | None = None  # a slice (view): the last n checkpoints only, the only ones it needs scored
    methods: tuple[str, ...] | None = None  # a slice's own whole analysis (None: the experiment's)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name) or re.fullmatch(r"r\d+", self.name):
            raise ValueError(f"sampler name {self.name!r} must be lower-case letters, digits and '-' (not r<digits>)")
        if (self.draw is None) == (self.arrange is None):
            raise ValueError(f"sampler {self.name!r} needs exactly one of draw (it writes samples) or arrange (a view)")

    @property
    def draws(self) -> bool:
        """It writes samples of its own (else it rearranges the paper's checkpoints' score files)."""
        return self.draw is not None

    def arranged(self, values: np.ndarray, seeds: list, checkpoints: list) -> Arrangement:
        """Values [seeds, checkpoints, ...] of the paper's files as this sampler's posterior samples (a view's
        arrangement; unchanged for the paper's and a drawing sampler's, whose files are their samples)."""
        if self.arrange is None:
            return values, list(seeds), list(checkpoints)
        return self.arrange(values, list(seeds), list(checkpoints))

    def settings_record(self) -> dict | None:
        return None if self.settings is None else dataclasses.asdict(self.settings)

    def with_settings(self, text: str | dict | None) -> Sampler:
        """This sampler with settings from `key=value,...` (or a dict): each key one of its settings, each value
        converted to that setting's type and checked; one line naming a bad key or value."""
        if not text:
            return self
        if self.settings is None:
            raise BadInput(f"sampler {self.name!r} takes no settings; got {text!r}")
        settings = with_text(self.settings, text, f"sampler {self.name!r}", "step=1e-6,temperature=1")
        if hasattr(settings, "check"):
            settings.check(self.name)
        return dataclasses.replace(self, settings=settings)

    def check_family(self, family) -> None:
        """One line where the model family's training loop is not one this sampler supports."""
        if self.trainers is not None and family.trainer not in self.trainers:
            raise BadInput(f"sampler {self.name!r} does not support model {family.name!r} (trained by "
                           f"{family.trainer!r}); it supports families trained by: {', '.join(self.trainers)}")


_REGISTRY: dict[str, Sampler] = {}
BUILT_IN_ORDER = (DEFAULT_SAMPLER, "seeds", "trajectory", "swag", "sgld", "laplace", "quick")


def register_sampler(sampler: Sampler) -> Sampler:
    """Add (or replace, by name) a sampler; a plugin module (BAYESTDA_PLUGINS) calls this when imported."""
    _REGISTRY[sampler.name] = sampler
    return sampler


def _registry() -> dict[str, Sampler]:
    load_plugins()
    built_in = [n for n in BUILT_IN_ORDER if n in _REGISTRY]
    return {n: _REGISTRY[n] for n in built_in + [n for n in _REGISTRY if n not in BUILT_IN_ORDER]}


def all_samplers() -> list[str]:
    return list(_registry())


def get_sampler(name: str) -> Sampler:
    """The registered sampler, or one line naming the allowed ones."""
    registry = _registry()
    if name not in registry:
        raise BadInput(f"unknown sampler {name!r}; allowed: {', '.join(registry)}")
    return registry[name]


def check_sampler(name: str, family=None) -> str:
    """The name, validated (and, with a model family, that the sampler supports it)."""
    sampler = get_sampler(name)
    if family is not None:
        sampler.check_family(family)
    return name


def describe() -> str:
    """The samplers as a markdown table: name, what it is, its settings."""
    lines = ["| sampler | what | settings |", "| --- | --- | --- |"]
    for name, s in _registry().items():
        settings = ", ".join(f"{k}={v}" for k, v in (s.settings_record() or {}).items()) or "none"
        lines.append(f"| `{name}` | {s.description} | {settings} |")
    return "\n".join(lines)
