"""A model family is one task object: this file defines a small MLP on 7x7-pooled mnist3 images with a
label-smoothed cross-entropy, registers it, and runs training, two methods and the analysis on it, with no
other file touched. The influence scores are checked against the definition, computed here independently."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from bayestda.core.losses import Loss
from bayestda.core.params import FlatView
from bayestda.data.subsets import Subset, load_experiment_data
from bayestda.experiments.experiment import Experiment
from bayestda.families import ModelFamily, Recipe, family_named, register_family
from bayestda.results.analysis import run_correlations, run_pvalues
from bayestda.scores.files import load_array
from bayestda.scores.pipeline import make_context, run_scores
from bayestda.training.checkpoints import load_checkpoint
from bayestda.training.loops import train_seed

SEEDS = [446, 724]


class SmoothedCrossEntropy(Loss):
    """Cross-entropy against labels smoothed by 0.1: its Gauss-Newton factor comes from Loss's generic eigh."""

    name = "smoothed_cross_entropy"

    def __call__(self, outputs, y, reduction="mean"):
        return F.cross_entropy(outputs, y, reduction=reduction, label_smoothing=0.1)


def pooled(subset: Subset) -> Subset:
    return Subset(F.avg_pool2d(subset.x, 4), subset.y, subset.idx)


class PooledMLPTask(ModelFamily):
    """49 pooled pixels -> 16 GELU units -> 10 outputs, 40 epochs (40 steps) of the paper's Adam."""

    name = "mlp"
    loss = measurement = SmoothedCrossEntropy()
    recipe = Recipe(epochs=40)

    def build_model(self, experiment) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(49, 16), nn.GELU(), nn.Linear(16, 10))

    def load_data(self, experiment, net):
        train, test = load_experiment_data(experiment.task, experiment.num_per_class)
        return pooled(train), pooled(test)


register_family(PooledMLPTask())
MLP = Experiment("mlp", "mnist3", 10)


@pytest.fixture(scope="module")
def mlp_run(mnist3_subsets):
    metrics = [train_seed(MLP, seed) for seed in SEEDS]
    for seed in SEEDS:
        run_scores(MLP, seed, ["gd", "if_converged"], show_progress=False)
    return metrics


def test_the_task_sets_the_experiments_model_recipe_and_checkpoints():
    assert family_named("mlp") is MLP.family and MLP.epochs == 40 and MLP.checkpoint_epochs == [35, 36, 37, 38, 39]
    assert MLP.checkpoint_path(446, 39).parts[-4:] == ("mlp", "mnist3_10pc", "446", "ckpt_epoch_39.pth")


def test_training_uses_the_tasks_model_data_and_loss(mlp_run):
    net, params = load_checkpoint(MLP, 446, 39)
    assert set(params) == {"1.weight", "1.bias", "3.weight", "3.bias"}
    _, test = MLP.family.load_data(MLP, net)
    logits = functional_call(net, params, (test.x,))
    reported = mlp_run[0]["checkpoints"]["39"]["test_loss"]
    assert reported == pytest.approx(F.cross_entropy(logits, test.y, label_smoothing=0.1).item(), rel=1e-6)
    assert reported != pytest.approx(F.cross_entropy(logits, test.y).item(), rel=1e-3)
    assert mlp_run[0]["checkpoints"]["39"]["test_accuracy"] > 50


def reference_influence(experiment: Experiment, seed: int, epoch: int, damping: float = 5e-3) -> np.ndarray:
    """−∇L(z_j)ᵀ (G + λI)⁻¹ ∇L(z) in float64 from the definition: G = mean_i J_iᵀ H_i J_i, H_i the loss's Hessian in
    the logits (autograd), J_i the logits' Jacobian, the gradients by autograd item by item."""
    net, params = load_checkpoint(experiment, seed, epoch)
    net = net.double()
    params = {n: p.double() for n, p in params.items()}
    train, test = experiment.family.load_data(experiment, net)
    loss = experiment.family.loss
    view = FlatView.of(params)
    theta = view.flatten(params)

    def logits(flat, x):
        return functional_call(net, view.unflatten(flat), (x[None].double(),))[0]

    def grad(x, y):
        return torch.autograd.functional.jacobian(lambda f: loss(logits(f, x)[None], y[None]), theta)

    curvature = torch.zeros(len(theta), len(theta), dtype=torch.float64)
    for x, y in zip(train.x, train.y):
        jac = torch.autograd.functional.jacobian(lambda f, x=x: logits(f, x), theta)
        out = logits(theta, x)
        hess = torch.autograd.functional.hessian(lambda o, y=y: loss(o[None], y[None]), out)
        curvature += jac.T @ hess @ jac / len(train)
    system = curvature + damping * torch.eye(len(theta), dtype=torch.float64)
    train_grads = torch.stack([grad(x, y) for x, y in zip(train.x, train.y)])
    test_grads = torch.stack([grad(x, y) for x, y in zip(test.x[:40], test.y[:40])])
    return (-train_grads @ torch.linalg.solve(system, test_grads.T)).numpy()


def test_influence_on_the_new_task_equals_the_definition(mlp_run):
    reference = reference_influence(MLP, 446, 39)
    scale = np.abs(reference).max()
    ctx = make_context(MLP, 446, 39, dtype=torch.float64)
    method = __import__("bayestda.attribution", fromlist=["get"]).get("if_converged")
    exact = method.score(ctx, method.inverse_hvp(ctx)).numpy()[:, :40]
    assert np.abs(exact - reference).max() < 1e-8 * scale  # float64: the solve and the generic Gauss-Newton factor
    written = load_array(MLP, "if_converged", 446, 39)[0][:, :40]
    assert np.abs(written - reference).max() < 1e-3 * scale  # the float32 file


@pytest.mark.slow
def test_the_analysis_runs_on_the_new_tasks_scores(mlp_run):
    significance = run_pvalues(MLP, ["gd", "if_converged"], SEEDS)
    assert set(significance["test"]) == {"z (paper)", "t, 1 dof", "sign, 2 seeds", "predictive, 1 dof"}  # two seeds: one dof
    summary = run_correlations(MLP, ["gd", "if_converged"], SEEDS)
    assert "2 seeds x 5 checkpoints" in summary
    assert (MLP.analysis_dir(["gd", "if_converged"], SEEDS) / "spearman_corr.png").exists()
