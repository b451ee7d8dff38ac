"""SWAG (Maddox et al. 2019) fitted over each seed's kept checkpoints: a Gaussian with the snapshots' mean, their
diagonal variance and a low-rank part from their deviations; S samples drawn per seed.

Written here (about 30 lines): the maintained SWAG (torch-uncertainty) needs torchvision, which breaks `import
peft` next to this CPU torch. The snapshots are the paper's last five epochs (Adam at a constant lr, where SWAG
assumes SGD), and the deviations are taken from the final mean (SWAG's are from the running one).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.errors import BadInput
from ..core.params import FlatView, Params
from .registry import SAMPLES_PER_SEED, Sampler, SamplerInput, register_sampler


@dataclass(frozen=True)
class SwagSettings:
    """rank: deviation columns (the last `rank` snapshots, 2..5); scale: the covariance's factor (SWAG's 1/2 is in
    the formula; scale multiplies on top)."""

    rank: int = 5
    scale: float = 1.0

    def check(self, what: str = "swag") -> SwagSettings:
        if not 2 <= self.rank <= SAMPLES_PER_SEED:
            raise BadInput(f"{what} setting rank = {self.rank} is out of range; allowed: 2..{SAMPLES_PER_SEED} (the kept "
                           "checkpoints)")
        if not self.scale > 0:
            raise BadInput(f"{what} setting scale = {self.scale} is out of range; allowed: a positive number")
        return self


@dataclass(frozen=True)
class SwagMoments:
    """A fitted SWAG posterior over flat parameters: mean [P], diagonal variance [P], deviations [P, rank]."""

    mean: torch.Tensor
    variance: torch.Tensor
    deviations: torch.Tensor

    @classmethod
    def fit(cls, snapshots: torch.Tensor, rank: int) -> SwagMoments:
        """From [K, P] snapshots: their mean, E[θ²] − mean² (clamped at 0), the last `rank` deviations from the mean."""
        mean = snapshots.mean(0)
        variance = (snapshots.pow(2).mean(0) - mean.pow(2)).clamp_min(0)
        return cls(mean, variance, (snapshots[-rank:] - mean).T)

    def sample(self, generator: torch.Generator, scale: float = 1.0) -> torch.Tensor:
        """θ̄ + √(scale/2)·(√diag ⊙ z₁ + D z₂/√(rank − 1)): SWAG's draw."""
        z1 = torch.randn(self.mean.shape, generator=generator, dtype=self.mean.dtype)
        z2 = torch.randn(self.deviations.shape[1], generator=generator, dtype=self.mean.dtype)
        spread = self.variance.sqrt() * z1 + self.deviations @ z2 / (self.deviations.shape[1] - 1) ** 0.5
        return self.mean + (scale / 2) ** 0.5 * spread


def swag_draws(given: SamplerInput, settings: SwagSettings) -> list[Params]:
    """SAMPLES_PER_SEED draws of the seed's SWAG posterior (its own generator, seeded by the seed)."""
    view = FlatView.of(given.final)
    snapshots = torch.stack([view.flatten(s).double() for s in given.snapshots])
    moments = SwagMoments.fit(snapshots, min(settings.rank, len(snapshots)))
    generator = torch.Generator().manual_seed(given.seed)
    dtype = next(iter(given.final.values())).dtype
    return [view.unflatten(moments.sample(generator, settings.scale).to(dtype)) for _ in range(SAMPLES_PER_SEED)]


register_sampler(Sampler("swag", "SWAG over each seed's 5 kept checkpoints (diagonal + rank-5), 5 draws per seed",
                         draw=swag_draws, settings=SwagSettings(), trainers=("paper",)))
