"""Shared fast pieces give the same numbers as the plain ones."""

import pytest
import torch
from torch.nn import functional as F

from bayestda.core import channels_last
from bayestda.core.channels_last import ChannelsLastEvaluator, max_pool_2x2, max_pool_2x2_nhwc
from bayestda.data.subsets import load_subset
from bayestda.models import build_cnn
from bayestda.numerics import layer_grads
from bayestda.numerics.evaluation import losses_of_models, per_sample_losses
from bayestda.numerics.per_sample import per_sample_gradients, per_sample_grads
from bayestda.scores.pipeline import compute, make_context


def test_fast_max_pool_has_the_same_values_as_max_pool2d_including_odd_sizes_and_ties():
    x = torch.randn(3, 4, 11, 13)
    x[0, 0, :4, :4] = 0.25  # ties, as in blank MNIST regions
    assert torch.equal(max_pool_2x2(x), F.max_pool2d(x, 2))
    nhwc = max_pool_2x2_nhwc(x.permute(0, 2, 3, 1).contiguous())
    assert torch.equal(nhwc.permute(0, 3, 1, 2), F.max_pool2d(x, 2))


@pytest.mark.parametrize("arch, channels, size", [("cnn", 1, 28), ("cnn3", 1, 28), ("cnn", 3, 32), ("cnn3", 3, 32)])
def test_channels_last_evaluation_equals_the_models_forward(arch, channels, size):
    torch.manual_seed(0)
    net = build_cnn(arch, channels).double().eval()
    models = [{n: p.detach() + 0.01 * k * torch.randn_like(p) for n, p in net.named_parameters()} for k in range(3)]
    x, y = torch.rand(150, channels, size, size, dtype=torch.float64), torch.randint(0, 10, (150,))
    evaluator = ChannelsLastEvaluator(net, x, chunk=64)  # chunks of 64, 64 and 22 items
    for params in models:
        assert torch.allclose(evaluator.logits(params), torch.func.functional_call(net, params, (x,)), rtol=1e-12, atol=1e-12)
    reference = torch.stack([per_sample_losses(net, params, x, y) for params in models])
    assert torch.allclose(losses_of_models(net, models, x, y, workers=2), reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("arch, channels, size", [("cnn", 1, 28), ("cnn3", 1, 28), ("cnn", 3, 32), ("cnn3", 3, 32)])
def test_per_sample_gradients_from_one_backward_equal_vmap_grad(arch, channels, size):
    torch.manual_seed(0)
    net = build_cnn(arch, channels).double().eval()
    params = {n: p.detach() for n, p in net.named_parameters()}
    x, y = torch.randn(6, channels, size, size, dtype=torch.float64), torch.randint(0, 10, (6,))
    assert layer_grads.supports(net, params)
    by_layers = per_sample_grads(net, params, x, y, chunk=4, method="layers", workers=2)
    by_vmap = per_sample_grads(net, params, x, y, chunk=4, method="vmap")
    assert torch.allclose(by_layers, by_vmap, rtol=1e-10, atol=1e-12)


def test_evaluation_losses_use_the_models_forward_values(mnist3_subsets):
    torch.manual_seed(0)
    net = build_cnn("cnn", 1).eval()
    test = load_subset("mnist3", "test").head(50)
    params = {n: p.detach() for n, p in net.named_parameters()}
    with torch.enable_grad():  # the paper's nn.MaxPool2d path
        reference = F.cross_entropy(net(test.x), test.y, reduction="none").detach()
    assert torch.equal(per_sample_losses(net, params, test.x, test.y, chunk=50), reference)


def test_factored_gradients_give_the_products_of_the_dense_gradients():
    torch.manual_seed(0)
    net = build_cnn("cnn", 1).double().eval()
    params = {n: p.detach() for n, p in net.named_parameters()}
    x, y = torch.rand(20, 1, 28, 28, dtype=torch.float64), torch.randint(0, 10, (20,))
    factored = per_sample_gradients(net, params, x, y, chunk=8, workers=2)
    dense = per_sample_gradients(net, params, x, y, method="vmap").rows()
    assert set(factored.factors) == {"fc1.weight", "fc2.weight"}  # fc1's 205k parameters never formed
    assert factored.dense.shape[1] == dense.shape[1] - 128 * 1600 - 10 * 128
    assert torch.allclose(factored.rows(), dense, rtol=1e-10, atol=1e-13)
    other = per_sample_gradients(net, params, x[:5] * 0.5, y[:5])
    m = torch.randn(3, dense.shape[1], dtype=torch.float64)
    assert torch.allclose(factored.products(m), m @ dense.T, rtol=1e-10, atol=1e-12)
    assert torch.allclose(factored.gram(other), other.rows() @ dense.T, rtol=1e-10, atol=1e-12)
    assert torch.allclose(factored.norms(), dense.norm(dim=1), rtol=1e-12)


@pytest.mark.slow
def test_one_switch_turns_every_channels_last_path_off_and_the_scores_agree(trained_seed, experiment):
    methods = ["loo", "loo_corrected", "ats", "if", "gd", "gc"]
    fast = compute(make_context(experiment, 446, 14), methods)
    with channels_last.plain_paths():
        ctx = make_context(experiment, 446, 14)
        assert not ctx.channels_last and not channels_last.applies(ctx.net, "cpu")
        plain = compute(ctx, methods)
    assert channels_last.applies(ctx.net, "cpu")  # switched back on
    for method in methods:
        scale = plain[method].abs().max()
        assert (fast[method] - plain[method]).abs().max() <= 1e-4 * scale, method
