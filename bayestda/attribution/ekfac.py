"""EK-FAC influence (George et al. 2018; Grosse et al. 2023): τ(z_j, z) = −∇L(z_j)ᵀ (F̂ + λI)⁻¹ ∇L(z).

Per Linear or Conv2d layer l (bias as an extra input column), with a its inputs (a Conv2d's unfolded patches)
and s the gradients of its outputs, over the n train items and their T tokens or spatial positions:
    A_l = mean_{i,t} a aᵀ,   S_l = mean_{i,t} E_y[s sᵀ],   A_l = Q_A diag(·) Q_Aᵀ,  S_l = Q_S diag(·) Q_Sᵀ,
    Λ_l = mean_i E_y[(Q_Sᵀ G_i Q_A)²]   (G_i = Σ_t s aᵀ, item i's gradient as an out × in matrix),
    (F̂_l + λI)⁻¹ V = Q_S [(Q_Sᵀ V Q_A) / (Λ_l + λ)] Q_Aᵀ,
block-diagonal over layers. fisher='expected' (default) takes E_y over the model's own predictive distribution,
exactly (a sum over classes, no sampled labels): F̂ then approximates the Gauss-Newton matrix of the mean train
loss that `if_converged` inverts exactly, with the same λ = 5e-3 (the training's weight decay), so the two differ
only by the Kronecker-factored eigenbasis. fisher='empirical' uses the true labels (kronfluence's
use_empirical_fisher=True, which the tests compare with). Everything is computed in float64; the inverse is
applied in closed form, and the score error bound |Δτ| ≤ ‖∇L(z_j)‖ ‖r‖ / λ from its residual r is logged.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from functools import partial

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from ..core.errors import BadInput, BayesTDAError
from .context import CheckpointContext
from .influence import score_error_bounds
from .registry import Method, register

log = logging.getLogger(__name__)

FISHERS = ("expected", "empirical")


DAMPING_RANGE = (1e-12, 1e6)  # λ the settings and the --ekfac-damping flag allow


@dataclass(frozen=True)
class EKFACSettings:
    """Damping λ added to every eigenvalue (default: the training weight decay, as if_converged) and the Fisher."""

    damping: float = 5e-3
    fisher: str = "expected"

    def check(self) -> None:
        low, high = DAMPING_RANGE
        if not (isinstance(self.damping, (int, float)) and low <= self.damping <= high):
            raise BadInput(f"--ekfac-damping {self.damping}: must be a number from 1e-12 to 1e6 (default 5e-3, "
                           "the training's weight decay)")
        if self.fisher not in FISHERS:
            raise BadInput(f"EK-FAC fisher {self.fisher!r}; allowed: {', '.join(FISHERS)}")


def _layers(ctx: CheckpointContext) -> list[tuple[str, nn.Module]]:
    """The Linear and Conv2d modules whose weights are trainable, checked to cover every trainable parameter."""
    layers, covered = [], set()
    for name, module in ctx.net.named_modules():
        weight = f"{name}.weight" if name else "weight"
        if isinstance(module, (nn.Linear, nn.Conv2d)) and weight in ctx.params:
            if isinstance(module, nn.Conv2d) and (module.groups != 1 or module.padding_mode != "zeros"):
                raise BayesTDAError(f"ekfac: Conv2d {name} has groups={module.groups}, padding_mode="
                                    f"{module.padding_mode!r}; only groups=1 with zero padding is supported")
            layers.append((name, module))
            covered |= {weight, f"{name}.bias" if name else "bias"}
    missing = [n for n in ctx.params if n not in covered]
    if missing:
        raise BayesTDAError(f"ekfac covers Linear and Conv2d layers; trainable {', '.join(missing)} are in neither")
    return layers


def _inputs_matrix(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """[b, T, in(+1)]: a layer's inputs per item and token/position, a column of ones for the bias."""
    if isinstance(module, nn.Conv2d):
        x = F.unfold(x, module.kernel_size, module.dilation, module.padding, module.stride).transpose(1, 2)
    else:
        x = x.reshape(x.shape[0], -1, x.shape[-1])
    if module.bias is not None:
        x = torch.cat([x, x.new_ones(*x.shape[:-1], 1)], dim=-1)
    return x


def _outputs_matrix(module: nn.Module, s: torch.Tensor) -> torch.Tensor:
    """[b, T, out]: the gradients of a layer's outputs per item and token/position."""
    if isinstance(module, nn.Conv2d):
        return s.flatten(2).transpose(1, 2)
    return s.reshape(s.shape[0], -1, s.shape[-1])


def _capture(ctx: CheckpointContext, layers, x: torch.Tensor, y: torch.Tensor, fisher: str):
    """Per layer: inputs [n, T, in] and the output gradients of each pseudo-label draw, [C or 1] x [n, T, out],
    each weighted by √p(c | x) (expected) or of the true label (empirical)."""
    inputs: dict[str, torch.Tensor] = {}
    outputs: dict[str, torch.Tensor] = {}
    handles = []
    for name, module in layers:
        def hook(mod, args, out, name=name):
            inputs[name] = _inputs_matrix(mod, args[0].detach())
            outputs[name] = out
        handles.append(module.register_forward_hook(hook))
    try:
        params = {n: p.detach().clone().requires_grad_(True) for n, p in ctx.params.items()}  # a graph to the outputs
        with torch.enable_grad():
            logits = functional_call(ctx.net, params, (x,))
            log_p = torch.log_softmax(logits, dim=-1)
            if fisher == "empirical":
                weighted = [-log_p.gather(1, y[:, None]).sum()]
            else:
                root_p = log_p.detach().exp().sqrt()
                weighted = [-(root_p[:, c] * log_p[:, c]).sum() for c in range(logits.shape[1])]
            names = [n for n, _ in layers]
            grads = {n: [] for n in names}
            for k, loss in enumerate(weighted):
                got = torch.autograd.grad(loss, [outputs[n] for n in names], retain_graph=k < len(weighted) - 1,
                                          allow_unused=True)
                for (n, module), g in zip(layers, got):
                    grads[n].append(_outputs_matrix(module, g if g is not None else torch.zeros_like(outputs[n])))
    finally:
        for h in handles:
            h.remove()
    return inputs, {n: torch.stack(g) for n, g in grads.items()}


@dataclass
class LayerFactors:
    q_a: torch.Tensor  # [in, in]
    q_s: torch.Tensor  # [out, out]
    lam: torch.Tensor  # [out, in]: Λ, the corrected eigenvalues


def fit_factors(ctx: CheckpointContext, fisher: str = "expected") -> dict[str, LayerFactors]:
    """The EK-FAC factors of every layer from the train set (ctx in float64 for the library-level accuracy)."""
    layers = _layers(ctx)
    inputs, grads = _capture(ctx, layers, ctx.train.x, ctx.train.y, fisher)
    n = len(ctx.train)
    out = {}
    for name, _ in layers:
        a, s = inputs[name], grads[name]  # [n, T, in], [C, n, T, out]
        tokens = a.shape[0] * a.shape[1]
        cov_a = torch.einsum("nti,ntj->ij", a, a) / tokens
        cov_s = torch.einsum("cnto,cntp->op", s, s) / tokens
        q_a = torch.linalg.eigh(cov_a).eigenvectors
        q_s = torch.linalg.eigh(cov_s).eigenvectors
        a_rot, s_rot = a @ q_a, s @ q_s
        lam = sum(torch.einsum("nto,nti->noi", s_rot[c], a_rot).square().sum(0) for c in range(len(s))) / n
        out[name] = LayerFactors(q_a, q_s, lam)
    return out


def _layer_matrices(ctx: CheckpointContext, layers, flat: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per layer [k, out, in(+1)] from flat parameter vectors [k, P] (bias as the last column)."""
    params = ctx.view.unflatten(flat)
    out = {}
    for name, module in layers:
        prefix = f"{name}." if name else ""
        w = params[f"{prefix}weight"].reshape(flat.shape[0], module.weight.shape[0], -1)
        if module.bias is not None:
            w = torch.cat([w, params[f"{prefix}bias"][..., None]], dim=-1)
        out[name] = w
    return out


def _rotate(factors: dict[str, LayerFactors], matrices: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Q_Sᵀ V Q_A per layer: the matrices in their layer's Kronecker eigenbasis."""
    return {name: factors[name].q_s.T @ v @ factors[name].q_a for name, v in matrices.items()}


def _scaled_back(factors: dict[str, LayerFactors], rotated: dict[str, torch.Tensor], damping: float,
                 inverse: bool) -> dict:
    """Q_S (R / (Λ + λ)) Q_Aᵀ (inverse) or Q_S (R (Λ + λ)) Q_Aᵀ per layer, from rotated matrices R."""
    out = {}
    for name, rotated_v in rotated.items():
        f = factors[name]
        scaled = rotated_v / (f.lam + damping) if inverse else rotated_v * (f.lam + damping)
        out[name] = f.q_s @ scaled @ f.q_a.T
    return out


def _apply(factors: dict[str, LayerFactors], matrices: dict[str, torch.Tensor], damping: float, inverse: bool) -> dict:
    """(F̂ + λI)⁻¹ V (inverse) or (F̂ + λI) V per layer, in the layer's Kronecker eigenbasis."""
    return _scaled_back(factors, _rotate(factors, matrices), damping, inverse)


def _flatten(ctx: CheckpointContext, layers, matrices: dict[str, torch.Tensor]) -> torch.Tensor:
    """[k, P] flat parameter vectors from per-layer [k, out, in(+1)] matrices (the inverse of _layer_matrices)."""
    params = {}
    for name, module in layers:
        prefix = f"{name}." if name else ""
        m = matrices[name]
        if module.bias is not None:
            params[f"{prefix}bias"] = m[..., -1]
            m = m[..., :-1]
        params[f"{prefix}weight"] = m.reshape(m.shape[0], *module.weight.shape)
    return ctx.view.flatten(params, batch_dims=1)


def _rank_one_layers(ctx: CheckpointContext, layers) -> set[str]:
    """Linear layers whose per-item weight gradients are rank one (δ aᵀ: kept factored by the gradient matrices),
    in both the train and the test gradients."""
    train, test = ctx.scored_gradients(), ctx.test_gradients()
    return {n for n, module in layers if isinstance(module, nn.Linear)
            and f"{n}.weight" in train.factors and f"{n}.weight" in test.factors}


def _factors_with_bias(gradients, name: str, module: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(δ [N, out], ã [N, in(+1)]): a rank-one layer's gradient δ ãᵀ with the bias column (its gradient is δ)."""
    delta, a = gradients.factors[f"{name}.weight"]
    if module.bias is not None:
        a = torch.cat([a, torch.ones_like(a[:, :1])], dim=1)
    return delta, a


def _rotated_factors(f: LayerFactors, delta: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(Q_Sᵀ δ, Q_Aᵀ ã) per item: the factors of Q_Sᵀ δ ãᵀ Q_A."""
    return delta @ f.q_s, a @ f.q_a


def _rotated_outer(f: LayerFactors, delta: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """[N, out, in(+1)] Q_Sᵀ δ ãᵀ Q_A, rotating the factors (out² + in² per item instead of out·in·(out + in))."""
    u, v = _rotated_factors(f, delta, a)
    return u[:, :, None] * v[:, None, :]


def ekfac_influence(ctx: CheckpointContext, settings: EKFACSettings = EKFACSettings(), check: bool = True) -> torch.Tensor:
    """[n_train, n_test] EK-FAC influence scores (float64 inside, the context's dtype out).

    The inverse is applied to the train gradients (usually the fewer), the scores are their products with the
    factored test gradients: the same numbers as preconditioning the test side, since (F̂ + λI)⁻¹ is symmetric.
    The factors and the train gradients in their eigenbasis are kept in the context (the damping curve's other λ
    reuse them); `check` logs the bound on the closed-form inverse's error from the round trip (F̂ + λI) of three
    train items' preconditioned vectors (first, middle, last: the trip costs as much as all the scores)."""
    settings.check()
    if ctx.loss.name != "cross_entropy":
        raise BayesTDAError(f"ekfac's Fisher is the cross-entropy's; this model family trains with {ctx.loss.name}")
    exact = ctx.at_dtype(torch.float64)
    layers = _layers(exact)
    factors = exact.cached(f"ekfac_factors_{settings.fisher}", lambda: fit_factors(exact, settings.fisher))

    def train() -> dict[str, torch.Tensor]:  # the train gradients per layer: for the rotation (once) and the check
        return exact.cached(exact.row_key("ekfac_train_matrices"),
                            lambda: _layer_matrices(exact, layers, exact.scored_grads()))

    rank_one = _rank_one_layers(exact, layers)
    rotated = exact.cached(exact.row_key(f"ekfac_rotated_train_{settings.fisher}"), lambda: {
        **_rotate(factors, {n: m for n, m in train().items() if n not in rank_one}),
        **{n: _rotated_outer(factors[n], *_factors_with_bias(exact.scored_gradients(), n, module))
           for n, module in layers if n in rank_one}})
    test = exact.test_gradients()
    dense_layers = [(n, module) for n, module in layers if n not in rank_one]
    preconditioned = _scaled_back(factors, {n: rotated[n] for n, _ in dense_layers}, settings.damping, inverse=True)
    preconditioned.update({n: torch.zeros_like(rotated[n]) for n in rank_one})  # their bias columns are scored below
    scores = -test.dense_products(_flatten(exact, layers, preconditioned))
    for name, module in layers:
        if name in rank_one:  # ⟨Q_Sᵀ δ ãᵀ Q_A, R / (Λ + λ)⟩ from the test factors rotated once
            u, v = exact.cached(f"ekfac_rotated_test_{settings.fisher}_{name}", lambda name=name, module=module:
                                _rotated_factors(factors[name], *_factors_with_bias(test, name, module)))
            scaled = rotated[name] / (factors[name].lam + settings.damping)  # [n, out, K]
            projected = (scaled.reshape(-1, scaled.shape[-1]) @ v.T).view(len(scaled), scaled.shape[1], len(v))
            scores -= torch.einsum("nom,mo->nm", projected, u)
    if not check:
        return scores.to(ctx.dtype)
    checked = sorted({0, len(scores) // 2, len(scores) - 1})  # the round trip costs as much as the scores: 3 items
    preconditioned = _scaled_back(factors, {n: r[checked] for n, r in rotated.items()}, settings.damping, inverse=True)
    back = _apply(factors, preconditioned, settings.damping, inverse=False)
    residual = torch.sqrt(sum((back[n] - train()[n][checked]).square().sum((1, 2)) for n, _ in layers))
    bound = score_error_bounds(test.norms(), residual, settings.damping, scores).max()
    log.info("ekfac: score error at most %.1e of the score scale (float64 closed-form inverse; the round trip of "
             "train items %s)", bound.item(), checked)
    return scores.to(ctx.dtype)


def ekfac_method(settings: EKFACSettings = EKFACSettings()) -> Method:
    """The registry entry of EK-FAC influence with these settings (recorded with every file it writes)."""
    settings.check()
    return Method("ekfac", partial(ekfac_influence, settings=settings), -1, "influence with the EK-FAC curvature "
                  f"(Linear and Conv2d layers, {settings.fisher} Fisher, λ = {settings.damping:g}; on request)",
                  default=False, settings=asdict(settings), configure=ekfac_method,
                  damped=lambda ctx, damping: ekfac_influence(ctx, replace(settings, damping=damping), check=False),
                  phantoms=True)


register(ekfac_method())
