"""Independent computations the methods are checked against (tests) and timed against (benchmarks/bench_methods.py):
a maintained library where one does the job (kronfluence, scipy), else the definition in float64, item by item."""

from __future__ import annotations

import copy
import logging
import tempfile

import numpy as np
import torch
from scipy.optimize import minimize
from torch.func import functional_call
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from bayestda.attribution.rps import features, last_linear
from bayestda.attribution.trak import projection_rows
from bayestda.data.subsets import Subset
from bayestda.training.checkpoints import load_checkpoint


# --- TRAK: the margin's own autograd gradients, an explicit projection matrix, (ΦᵀΦ)⁺ -----------------------
def item_gradients(net, params, x, y, quantity) -> torch.Tensor:
    """[N, P] ∇θ quantity(logits, label) of each item, one autograd call per item, float64."""
    net = copy.deepcopy(net).double()
    rows = []
    for xi, yi in zip(x.double(), y):
        theta = {n: p.detach().double().requires_grad_(True) for n, p in params.items()}
        value = quantity(functional_call(net, theta, (xi[None],))[0], yi)
        rows.append(torch.cat([g.flatten() for g in torch.autograd.grad(value, list(theta.values()))]))
    return torch.stack(rows)


def loss_gradients(net, params, x, y) -> torch.Tensor:
    """[N, P] ∇θ of each item's cross-entropy."""
    return item_gradients(net, params, x, y, lambda logits, yi: F.cross_entropy(logits[None], yi[None]))


def margin_gradients(net, params, x, y) -> torch.Tensor:
    """[N, P] ∇θ log(p/(1-p)) of the true class."""
    def margin(logits, yi):
        log_p = F.log_softmax(logits, dim=0)[yi]
        return log_p - torch.log(-torch.expm1(log_p))

    return item_gradients(net, params, x, y, margin)


def true_class_probabilities(net, params, x, y):
    with torch.no_grad():
        logits = functional_call(copy.deepcopy(net).double(), {n: p.double() for n, p in params.items()}, (x.double(),))
    return torch.softmax(logits, dim=1)[torch.arange(len(y)), y]


def trak_reference(net, params, train, test, settings) -> torch.Tensor:
    """[n_train, n_test] TRAK from its definition in float64 (the projection rows are part of the definition)."""
    numel = sum(p.numel() for p in params.values())
    projection = projection_rows(settings, 0, settings.dim, numel, torch.float64, "cpu")  # [k, P]
    phi_train = margin_gradients(net, params, train.x, train.y) @ projection.T
    phi_test = margin_gradients(net, params, test.x, test.y) @ projection.T
    q_train = 1 - true_class_probabilities(net, params, train.x, train.y)
    inverse = torch.linalg.pinv(phi_train.T @ phi_train, hermitian=True)
    return (phi_test @ inverse @ phi_train.T * q_train[None]).T


# --- RPS-L2: the last layer re-fitted by scipy's L-BFGS, the representer split ------------------------------
def scipy_minimiser(f, y, w0, b, l2):
    """argmin_W (1/n) Σ CE(W f_i + b, y_i) + λ‖W‖² by scipy's L-BFGS-B, numpy only."""
    n, c = len(y), w0.shape[0]
    onehot = np.eye(c)[y]

    def value_and_grad(flat):
        w = flat.reshape(w0.shape)
        logits = f @ w.T + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        value = -np.log(p[np.arange(n), y]).mean() + l2 * (w**2).sum()
        grad = (p - onehot).T @ f / n + 2 * l2 * w
        return value, grad.ravel()

    result = minimize(value_and_grad, w0.ravel(), jac=True, method="L-BFGS-B",
                      options={"maxiter": 10000, "gtol": 1e-13, "ftol": 0.0})
    return result.x.reshape(w0.shape)


def rps_definition(ctx, l2: float):
    """(W*, α [n_train, C], scores [n_train, n_test]) of RPS-L2 from its definition: the last layer re-fitted by
    scipy's L-BFGS-B on the features, α_i = −∂CE_i/∂Φ_i / (2λn), τ = α_{i,y(z)} f_i·f(z) (ctx in float64)."""
    name, layer = last_linear(ctx.net, ctx.params)
    f_train, f_test = features(ctx, ctx.train.x, layer).numpy(), features(ctx, ctx.test.x, layer).numpy()
    w0, b = ctx.params[f"{name}.weight"].numpy(), ctx.params[f"{name}.bias"].numpy()
    y, y_test = ctx.train.y.numpy(), ctx.test.y.numpy()
    w_star = scipy_minimiser(f_train, y, w0, b, l2)
    logits = f_train @ w_star.T + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    alpha = -(p - np.eye(w0.shape[0])[y]) / (2 * l2 * len(y))
    return w_star, alpha, f_train, alpha[:, y_test] * (f_train @ f_test.T)


# --- EK-FAC: kronfluence 1.0 ---------------------------------------------------------------------------------
def kronfluence_ekfac(net, params, train, test, damping: float, fisher: str = "expected") -> torch.Tensor:
    """[n_train, n_test] −(kronfluence's EK-FAC pairwise scores), float64 throughout (our sign: negative = helpful).

    fisher='empirical': kronfluence's use_empirical_fisher=True. fisher='expected' (the exact expectation over the
    model's classes, which kronfluence samples instead): each train item repeated once per class c with its loss
    weighted by √p(c | x), with the true-label loss for the scores; the factors then average over C times the
    items, so λ/C in kronfluence gives C × our (F̂ + λI)⁻¹, scaled back here."""
    from kronfluence.analyzer import Analyzer, prepare_model  # noqa: PLC0415 (heavy, for this reference only)
    from kronfluence.arguments import FactorArguments, ScoreArguments  # noqa: PLC0415
    from kronfluence.task import Task  # noqa: PLC0415

    classes = 1
    state = {"weighted": fisher == "expected"}

    class Classification(Task):
        def compute_train_loss(self, batch, model, sample=False):
            x, y = batch
            logits = model(x)
            losses = F.cross_entropy(logits, y, reduction="none")
            if state["weighted"]:
                losses = losses * torch.softmax(logits.detach(), -1).gather(1, y[:, None]).squeeze(1).sqrt()
            return losses.sum()

        def compute_measurement(self, batch, model):
            x, y = batch
            return F.cross_entropy(model(x), y, reduction="sum")

    model = copy.deepcopy(net).double().eval()
    model.load_state_dict({k: v.double() for k, v in params.items()}, strict=False)
    task = Classification()
    model = prepare_model(model, task)
    x, y = train.x.double(), train.y
    if fisher == "expected":
        classes = int(model(x[:1]).shape[1])
        x, y = x.repeat_interleave(classes, 0), torch.arange(classes).repeat(len(train))
    d64 = torch.float64
    logging.getLogger("kronfluence").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        analyzer = Analyzer("check", model, task, output_dir=folder, disable_tqdm=True, cpu=True, disable_model_save=True)
        factor_args = FactorArguments(strategy="ekfac", use_empirical_fisher=True, activation_covariance_dtype=d64,
                                      gradient_covariance_dtype=d64, lambda_dtype=d64, per_sample_gradient_dtype=d64,
                                      eigendecomposition_dtype=d64)
        analyzer.fit_all_factors("factors", dataset=TensorDataset(x, y), factor_args=factor_args,
                                 per_device_batch_size=len(x), overwrite_output_dir=True)
        state["weighted"] = False
        score_args = ScoreArguments(damping_factor=damping / classes, precondition_dtype=d64,
                                    per_sample_gradient_dtype=d64, score_dtype=d64)
        analyzer.compute_pairwise_scores("scores", factors_name="factors",
                                         query_dataset=TensorDataset(test.x.double(), test.y),
                                         train_dataset=TensorDataset(train.x.double(), train.y),
                                         per_device_query_batch_size=min(len(test), 256),
                                         per_device_train_batch_size=len(train), score_args=score_args,
                                         overwrite_output_dir=True)
        scores = analyzer.load_pairwise_scores("scores")["all_modules"]
    return -scores.T / classes


# --- shared inputs -------------------------------------------------------------------------------------------
def checkpoint_data(experiment, seed: int, epoch: int, test_items: int):
    """(net, params, train, the first test_items test items) of one trained checkpoint."""
    net, params = load_checkpoint(experiment, seed, epoch)
    train, test = experiment.family.load_data(experiment, net)
    return net, params, train, Subset(test.x[:test_items], test.y[:test_items], test.idx[:test_items])
