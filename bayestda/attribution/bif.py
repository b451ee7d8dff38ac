"""The Bayesian influence function (Kreer et al. 2025, arXiv 2509.26544): minus the covariance, over a local
posterior around the checkpoint, of a train item's loss and a test item's measurement. No Hessian: the local
posterior is sampled by SGLD (numerics.langevin) started at θ_t with localisation γ.

    BIF(z_i, z) = −Cov_{θ ~ p_γ(θ | D)}(ℓ(z_i; θ), ℓ(z; θ))

Its sign follows the influence function's: the change of the expected test loss when z_i is up-weighted, so
negative means helpful (as `if`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial

import torch

from ..core.errors import BadInput
from ..numerics.evaluation import losses_of_models
from ..numerics.langevin import LangevinSettings, langevin_draws
from .context import CheckpointContext
from .registry import Method, register


@dataclass(frozen=True)
class BifSettings:
    """draws: local posterior samples; step, temperature, burn_in, thin, localisation: the SGLD chain's."""

    draws: int = 40
    step: float = 1e-5
    temperature: float = 1.0
    burn_in: int = 100
    thin: int = 5
    localisation: float = 1000.0

    def chain(self) -> LangevinSettings:
        return LangevinSettings(step=self.step, temperature=self.temperature, burn_in=self.burn_in, thin=self.thin,
                                localisation=self.localisation)

    def check(self, what: str = "bif") -> BifSettings:
        if self.draws < 3:
            raise BadInput(f"{what} setting draws = {self.draws} is out of range; allowed: an integer >= 3")
        self.chain().check(what)
        return self


def loss_covariance(train_losses: torch.Tensor, test_losses: torch.Tensor) -> torch.Tensor:
    """[n_train, n_test] sample covariance (ddof 1) over the draws of [D, n_train] and [D, n_test] losses."""
    a = train_losses - train_losses.mean(0)
    b = test_losses - test_losses.mean(0)
    return a.T @ b / (len(train_losses) - 1)


def chain_seed(ctx: CheckpointContext) -> int:
    """The SGLD chain's seed at this checkpoint: the run's seed and the checkpoint (reproducible, distinct)."""
    return ctx.seed * 1000 + (ctx.epoch or 0)


def local_draws(ctx: CheckpointContext, settings: BifSettings) -> list:
    """The local posterior's samples around θ_t (prior precision N·weight decay, the training's regulariser)."""
    prior = len(ctx.train) * ctx.adam.weight_decay
    return langevin_draws(ctx.net, ctx.params, ctx.train.x, ctx.train.y, settings.draws, settings.chain(), prior,
                          seed=chain_seed(ctx), loss=ctx.loss)


def bif(ctx: CheckpointContext, settings: BifSettings = BifSettings()) -> torch.Tensor:
    """[n_train, n_test] Bayesian influence at this checkpoint: −Cov over local SGLD draws."""
    settings.check()
    draws = ctx.cached(f"bif_draws_{settings}", lambda: local_draws(ctx, settings))
    train = losses_of_models(ctx.net, draws, ctx.rows.x, ctx.rows.y, workers=ctx.workers, loss=ctx.loss)
    test = ctx.test_losses_of(draws, stacked=False)
    return -loss_covariance(train.double(), test.double()).to(ctx.dtype)


def bif_method(settings: BifSettings = BifSettings()) -> Method:
    """The registry entry of the Bayesian influence function with these settings (recorded with every file)."""
    settings.check()
    return Method("bif", partial(bif, settings=settings), -1,
                  f"Bayesian influence: −Cov of losses over {settings.draws} local SGLD draws (γ = "
                  f"{settings.localisation:g}, ε = {settings.step:g}; on request)", needs=("test_losses",),
                  default=False, settings=asdict(settings), configure=bif_method, phantoms=True)


register(bif_method())


def _in_the_analysis(ctx: CheckpointContext) -> torch.Tensor:
    raise BadInput("bif_ensemble has one score per pair from every posterior sample's losses: the analysis computes "
                   "it (run_correlation_analysis.py --methods ...,bif_ensemble), no per-checkpoint script does")


register(Method("bif_ensemble", _in_the_analysis, -1, "Bayesian influence over the experiment's own posterior "
                "samples: −Cov of losses, one score per pair (in the analysis; no posterior test)",
                needs=("test_losses",), default=False, whole_posterior=True))

__all__ = ["BifSettings", "bif", "bif_method", "loss_covariance"]
