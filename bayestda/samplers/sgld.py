"""SGLD chains started at each seed's final weights (numerics.langevin, on `posteriors`): 5 draws per seed."""

from __future__ import annotations

from ..core.params import Params
from ..numerics.langevin import LangevinSettings, langevin_draws
from .registry import SAMPLES_PER_SEED, Sampler, SamplerInput, register_sampler


def sgld_draws(given: SamplerInput, settings: LangevinSettings) -> list[Params]:
    """SAMPLES_PER_SEED draws of one full-batch SGLD chain from the seed's final weights."""
    prior = given.prior_precision if settings.prior_precision is None else settings.prior_precision
    return langevin_draws(given.net, given.final, given.train_x, given.train_y, SAMPLES_PER_SEED, settings, prior,
                          seed=given.seed, loss=given.loss)


register_sampler(Sampler("sgld", "SGLD from each seed's final weights (full batch, prior from the weight decay), 5 draws",
                         draw=sgld_draws, settings=LangevinSettings(), trainers=("paper",)))
