"""Representer point selection (Yeh et al. 2018), RPS-L2 on the last layer.

The last layer's weight W is fine-tuned with an L2 penalty on the train features f_i (its inputs at the
checkpoint) to the minimiser W* of  (1/n) Σ CE(W f_i + b, y_i) + λ‖W‖²  (bias b kept), from the checkpoint's W,
by L-BFGS in float64. At the minimum W* = Σ_i α_i f_iᵀ with α_i = −∂CE(Φ_i, y_i)/∂Φ_i / (2λn), Φ_i = W* f_i + b,
so every logit splits over train items; the score of train item i for test item z is its share of z's
true-class logit, α_{i,y} f_i·f(z). Positive = helpful (it raises the true class). λ = 0.003, the RPS default of
dattri's `AttributorRPS`. The stationarity residual is logged: it bounds how far the split is from W*.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from ..core.errors import BadInput, BayesTDAError
from .context import CheckpointContext
from .registry import Method, register

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RPSSettings:
    """λ of the L2 penalty and the L-BFGS budget of the last-layer fine-tuning."""

    l2: float = 0.003
    max_iterations: int = 500
    tolerance: float = 1e-12

    def check(self) -> RPSSettings:
        if not self.l2 > 0:
            raise BadInput(f"RPS L2 strength {self.l2!r} is out of range; it must be > 0 (default {RPSSettings.l2})")
        return self


def last_linear(net: nn.Module, params) -> tuple[str, nn.Linear]:
    """The last trainable Linear layer in module order (the CNNs' fc2, the ViT's classifier): it makes the logits."""
    found = [(name, m) for name, m in net.named_modules() if isinstance(m, nn.Linear) and f"{name}.weight" in params]
    if not found:
        raise BayesTDAError("rps needs a trainable Linear last layer; this model has none")
    return found[-1]


def features(ctx: CheckpointContext, x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """[N, d] inputs of `layer` (the last Linear) at this checkpoint (eval mode), in float64."""
    captured = []
    hook = layer.register_forward_hook(lambda module, inputs, output: captured.append(inputs[0].detach()))
    try:
        with torch.no_grad():
            for start in range(0, len(x), 256):
                functional_call(ctx.net, ctx.params, (x[start : start + 256],))
    finally:
        hook.remove()
    return torch.cat(captured).double()


def fine_tune_last_layer(f: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                         settings: RPSSettings) -> torch.Tensor:
    """W* = argmin (1/n) Σ CE(W f_i + b, y_i) + λ‖W‖², from the given W, by L-BFGS (strong Wolfe), float64."""
    w = weight.detach().double().clone().requires_grad_(True)
    b = bias.detach().double()
    optimizer = torch.optim.LBFGS([w], lr=1.0, max_iter=settings.max_iterations, tolerance_grad=settings.tolerance,
                                  tolerance_change=0.0, history_size=50, line_search_fn="strong_wolfe")

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        value = F.cross_entropy(f @ w.T + b, y) + settings.l2 * w.pow(2).sum()
        value.backward()
        return value

    optimizer.step(objective)
    return w.detach()


def _output_gradients(f: torch.Tensor, y: torch.Tensor, w: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """[n, C] ∂CE/∂Φ of items with features f and labels y under the last layer (w, bias): softmax − one-hot."""
    logits = f @ w.T + bias.double()
    return torch.softmax(logits, dim=1) - F.one_hot(y, logits.shape[1]).double()


def rps(ctx: CheckpointContext, settings: RPSSettings = RPSSettings()) -> torch.Tensor:
    """[n_train, n_test] representer values α_{i,y(z)} f_i·f(z)."""
    settings.check()
    if ctx.loss.name != "cross_entropy":
        raise BayesTDAError(f"rps needs the cross-entropy loss (its representer theorem); this model family uses {ctx.loss.name}")
    name, layer = last_linear(ctx.net, ctx.params)
    weight = ctx.params[f"{name}.weight"]
    bias = ctx.params.get(f"{name}.bias", torch.zeros(weight.shape[0], dtype=weight.dtype, device=weight.device))
    f_train, f_test = features(ctx, ctx.train.x, layer), features(ctx, ctx.test.x, layer)
    y = ctx.train.y.to(f_train.device)
    w = fine_tune_last_layer(f_train, y, weight, bias, settings)
    dlogits = _output_gradients(f_train, y, w, bias)
    n = len(y)
    residual = (dlogits.T @ f_train / n + 2 * settings.l2 * w).norm() / (2 * settings.l2 * w.norm())
    log.info("rps: stationarity residual of the L2 fine-tuning %.1e of ‖2λW*‖", residual)
    if ctx.scored is not None:  # other items (phantoms): their own representer values under the same W*
        f_train = features(ctx, ctx.scored.x, layer)
        dlogits = _output_gradients(f_train, ctx.scored.y.to(f_train.device), w, bias)
    alpha = -dlogits / (2 * settings.l2 * n)  # [n_scored, C]
    shares = alpha[:, ctx.test.y.to(alpha.device)]  # [n_scored, n_test]: α_{i, y(z)}
    return (shares * (f_train @ f_test.T)).to(ctx.dtype).contiguous()


register(Method("rps", rps, +1, "representer point selection (RPS-L2 on the last layer, λ = 0.003; on request)",
                default=False, settings=asdict(RPSSettings()), phantoms=True))
