"""Posterior samplers: how the posterior p(θ|D) that every method is tested over is sampled.

The paper's is `seeds-x-checkpoints` (10 seeds × their last five checkpoints, the default). A sampler is declared
once, like a method (`registry.register(Sampler(...))`): a view of the paper's checkpoints (`seeds`, `trajectory`)
rearranges their score files, a drawing sampler (`swag`, `sgld`, `laplace`) writes S seeds × 5 samples as
checkpoints in the paper's format, scored by the unchanged pipeline. docs/samplers.md has the settings.
"""

from . import laplace, sgld, swag, views  # noqa: F401 (registers the built-in samplers)
from .registry import (
    DEFAULT_SAMPLER,
    SAMPLES_PER_SEED,
    Sampler,
    SamplerInput,
    all_samplers,
    check_sampler,
    describe,
    get_sampler,
    register_sampler,
)

__all__ = ["DEFAULT_SAMPLER", "SAMPLES_PER_SEED", "Sampler", "SamplerInput", "all_samplers", "check_sampler",
           "describe", "get_sampler", "register_sampler"]
