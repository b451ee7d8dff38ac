"""Arnoldi influence: with a Krylov space as large as the model, its eigenpairs are the dense Hessian's, and its
scores are the influence function on the top eigenvalues computed from the dense Hessian in float64."""

import pytest
import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from bayestda.attribution import ArnoldiSettings, CheckpointContext, arnoldi_influence
from bayestda.core.errors import BayesTDAError
from bayestda.core.params import FlatView
from bayestda.data.subsets import Subset, load_subset


@pytest.fixture(scope="module")
def tiny_ctx(mnist3_subsets):
    """A 123-parameter MLP on 4 x 4 pooled mnist3 digits, trained 60 Adam steps: small enough for a dense Hessian."""
    train, test = load_subset("mnist3", "train", 10), load_subset("mnist3", "test")
    pool = lambda x: F.adaptive_avg_pool2d(x, 4).double()  # noqa: E731
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(60):
        optimizer.zero_grad()
        F.cross_entropy(net(pool(train.x)), train.y).backward()
        optimizer.step()
    params = {n: p.detach().clone() for n, p in net.named_parameters()}
    return CheckpointContext(net, params, Subset(pool(train.x), train.y, train.idx),
                             Subset(pool(test.x[:25]), test.y[:25], test.idx[:25]), 0, 15, dtype=torch.float64)


def dense_reference(ctx, top):
    view = FlatView.of(ctx.params)
    theta = view.flatten(ctx.params)

    def loss_of(flat, x, y):
        return F.cross_entropy(functional_call(ctx.net, view.unflatten(flat), (x,)), y)

    hessian = torch.autograd.functional.hessian(lambda t: loss_of(t, ctx.train.x, ctx.train.y), theta)
    values, vectors = torch.linalg.eigh(hessian)
    order = values.abs().argsort(descending=True)[:top]
    inverse = vectors[:, order] @ torch.diag(1 / values[order]) @ vectors[:, order].T
    def grads(x, y):
        return torch.stack([item_grad(xi, yi) for xi, yi in zip(x, y)])

    def item_grad(xi, yi):
        t = theta.clone().requires_grad_(True)
        return torch.autograd.grad(loss_of(t, xi[None], yi[None]), t)[0]

    return -grads(ctx.train.x, ctx.train.y) @ inverse @ grads(ctx.test.x, ctx.test.y).T


def test_arnoldi_equals_the_dense_hessians_top_eigenpairs_influence(tiny_ctx):
    numel = sum(p.numel() for p in tiny_ctx.params.values())
    settings = ArnoldiSettings(iterations=numel, top=10)
    ours = arnoldi_influence(tiny_ctx, settings)
    reference = dense_reference(tiny_ctx, 10)
    assert (ours - reference).abs().max() <= 1e-6 * reference.abs().max()


@pytest.mark.parametrize("settings, message", [
    (ArnoldiSettings(iterations=20, top=30), "allowed: 1 <= top <= iterations"),
    (ArnoldiSettings(iterations=500, top=10), "exceed the model's 123 trainable parameters"),
])
def test_impossible_settings_are_refused_in_one_line(tiny_ctx, settings, message):
    with pytest.raises(BayesTDAError, match=message):
        arnoldi_influence(tiny_ctx, settings)
