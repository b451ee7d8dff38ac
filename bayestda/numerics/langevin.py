"""Stochastic-gradient Langevin dynamics around a trained model (the `sgld` sampler and the Bayesian influence
function), on the maintained `posteriors` package's SGLD step.

The chain targets p_T(θ) ∝ exp(log p(θ) / T) with the log posterior of the whole training set (full batch: the
paper's subsets have at most 1,000 items)

    log p(θ) = −Σ_i ℓ(z_i; θ) − (λ/2)·‖θ‖² − (γ/2)·‖θ − θ₀‖²,

λ the prior precision (the training's L2 weight decay in these units: N·wd, Adam's coupled decay on the mean
loss) and γ the localisation that keeps the chain near its start θ₀ (Kreer et al. 2025's local posterior). The
step is Welling and Teh's: θ ← θ + ε·∇log p(θ) + N(0, 2·ε·T). Draws are every `thin`-th step after `burn_in`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from ..core.errors import BadInput
from ..core.losses import Loss, cross_entropy
from ..core.params import Params

with warnings.catch_warnings():  # tensordict 0.15 warns about its dataclass defaults at import; nothing to act on
    warnings.simplefilter("ignore", FutureWarning)
    from posteriors.sgmcmc import sgld as _sgld


@dataclass(frozen=True)
class LangevinSettings:
    """One SGLD chain: step size ε, temperature T, burn-in steps, thinning, localisation γ, and the prior
    precision λ (None: N·weight decay, the training's own regulariser)."""

    step: float = 1e-6
    temperature: float = 1.0
    burn_in: int = 100
    thin: int = 20
    localisation: float = 0.0
    prior_precision: float | None = None

    def check(self, what: str = "sgld") -> LangevinSettings:
        """The settings, or one line naming the first out of range and what is allowed."""
        rules = (("step", self.step > 0, "a positive number, e.g. 1e-6"),
                 ("temperature", self.temperature > 0, "a positive number, e.g. 1"),
                 ("burn_in", self.burn_in >= 0, "an integer >= 0"),
                 ("thin", self.thin >= 1, "an integer >= 1"),
                 ("localisation", self.localisation >= 0, "a number >= 0 (0: no localisation)"),
                 ("prior_precision", self.prior_precision is None or self.prior_precision >= 0,
                  "a number >= 0, or leave it out for N·weight decay"))
        for name, ok, allowed in rules:
            if not ok:
                raise BadInput(f"{what} setting {name} = {getattr(self, name)!r} is out of range; allowed: {allowed}")
        return self


def log_posterior_of(net: nn.Module, start: Params, x: torch.Tensor, y: torch.Tensor, loss: Loss,
                     prior_precision: float, localisation: float) -> Callable:
    """(θ, batch) -> (log p(θ), aux) in the form posteriors' SGLD takes: the summed loss, the Gaussian prior and
    the localisation around `start`."""
    anchor = {n: p.detach().clone() for n, p in start.items()}

    def log_posterior(params: Params, batch) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = functional_call(net, params, (x,))
        value = -loss(outputs, y, reduction="sum")
        if prior_precision:
            value = value - 0.5 * prior_precision * sum((p * p).sum() for p in params.values())
        if localisation:
            value = value - 0.5 * localisation * sum(((p - anchor[n]) ** 2).sum() for n, p in params.items())
        return value, torch.tensor([])

    return log_posterior


def langevin_draws(net: nn.Module, start: Params, x: torch.Tensor, y: torch.Tensor, draws: int,
                   settings: LangevinSettings, prior_precision: float, seed: int, loss: Loss = cross_entropy,
                   on_step: Callable[[], None] | None = None) -> list[Params]:
    """`draws` parameter sets of one SGLD chain started at `start` (burn_in steps, then one draw every thin
    steps), reproducible from `seed` without moving the global RNG."""
    settings.check()
    if draws < 1:
        raise BadInput(f"draws = {draws} is out of range; allowed: an integer >= 1")
    transform = _sgld.build(log_posterior_of(net, start, x, y, loss, prior_precision, settings.localisation),
                            lr=settings.step, temperature=settings.temperature)
    out: list[Params] = []
    with torch.random.fork_rng(devices=[]):  # posteriors draws its noise from torch's global RNG
        torch.manual_seed(seed)
        state = transform.init({n: p.detach().clone() for n, p in start.items()})
        for step in range(settings.burn_in + draws * settings.thin):
            state, _ = transform.update(state, None, inplace=True)
            if on_step is not None:
                on_step()
            if step >= settings.burn_in and (step - settings.burn_in + 1) % settings.thin == 0:
                out.append({n: p.detach().clone() for n, p in state.params.items()})
    return out
