"""A last-layer Laplace approximation around each seed's final weights (the `posteriors` package's GGN Laplace):
the last linear layer ~ N(θ_L, T·(GGN + λI)⁻¹), λ the prior precision from the weight decay; 5 draws per seed,
every other layer kept at the trained weights."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from ..core.errors import BadInput
from ..core.params import Params
from .registry import SAMPLES_PER_SEED, Sampler, SamplerInput, register_sampler

with warnings.catch_warnings():  # tensordict 0.15 warns about its dataclass defaults at import; nothing to act on
    warnings.simplefilter("ignore", FutureWarning)
    from posteriors.laplace import dense_ggn


@dataclass(frozen=True)
class LaplaceSettings:
    """prior_precision: λ (None: N·weight decay, the training's regulariser); temperature: the covariance's factor."""

    prior_precision: float | None = None
    temperature: float = 1.0

    def check(self, what: str = "laplace") -> LaplaceSettings:
        if self.prior_precision is not None and not self.prior_precision > 0:
            raise BadInput(f"{what} setting prior_precision = {self.prior_precision} is out of range; allowed: a "
                           "positive number, or leave it out for N·weight decay")
        if not self.temperature > 0:
            raise BadInput(f"{what} setting temperature = {self.temperature} is out of range; allowed: a positive number")
        return self


def last_layer(net: nn.Module, params: Params) -> list[str]:
    """The parameter names of the net's last nn.Linear (the classifier), sorted: the order in which `posteriors`
    flattens a dict of tensors (optree sorts its keys), so that its precision and our mean line up."""
    linears = [name for name, module in net.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise BadInput(f"laplace needs a last nn.Linear layer; {type(net).__name__} has none")
    return sorted(n for n in params if n.rsplit(".", 1)[0] == linears[-1])


def last_layer_precision(given: SamplerInput, names: list[str], prior: float) -> torch.Tensor:
    """GGN of the summed loss in the last layer's parameters (flattened in `names` order) plus λI."""
    fixed = {n: p for n, p in given.final.items() if n not in names}

    def forward(layer: Params, batch):
        x, _ = batch
        return functional_call(given.net, {**fixed, **layer}, (x,)), torch.tensor([])

    def log_likelihood(outputs: torch.Tensor, batch) -> torch.Tensor:
        _, y = batch
        return -given.loss(outputs, y, reduction="sum")

    transform = dense_ggn.build(forward, log_likelihood, init_prec=prior)
    state = transform.init({n: given.final[n].detach().clone() for n in names})
    state, _ = transform.update(state, (given.train_x, given.train_y))
    return state.prec


def gaussian_draws(mean: torch.Tensor, precision: torch.Tensor, generator: torch.Generator, count: int) -> torch.Tensor:
    """[count, P] draws of N(mean, precision⁻¹): mean + L⁻ᵀ z with L Lᵀ = precision (no inverse formed)."""
    chol = torch.linalg.cholesky(precision)
    z = torch.randn(len(mean), count, generator=generator, dtype=mean.dtype)
    return (mean[:, None] + torch.linalg.solve_triangular(chol.T, z, upper=True)).T


def laplace_draws(given: SamplerInput, settings: LaplaceSettings) -> list[Params]:
    """SAMPLES_PER_SEED draws of the last layer from its Laplace posterior (seeded by the seed)."""
    names = last_layer(given.net, given.final)
    prior = given.prior_precision if settings.prior_precision is None else settings.prior_precision
    precision = last_layer_precision(given, names, prior).double() / settings.temperature
    mean = torch.cat([given.final[n].reshape(-1) for n in names]).double()
    out = []
    for flat in gaussian_draws(mean, precision, torch.Generator().manual_seed(given.seed), SAMPLES_PER_SEED):
        sample = dict(given.final)
        for name, piece in zip(names, torch.split(flat, [given.final[n].numel() for n in names])):
            sample[name] = piece.reshape(given.final[name].shape).to(given.final[name].dtype)
        out.append(sample)
    return out


register_sampler(Sampler("laplace", "last-layer Laplace (GGN, prior precision N·weight decay) at each seed's final "
                         "weights, 5 draws", draw=laplace_draws, settings=LaplaceSettings(), trainers=("paper",)))
