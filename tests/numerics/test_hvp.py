"""The Hessian operator behind Arnoldi caches GELU's derivatives at the point; its products must stay the loss's
Hessian: equal, in float64, to autograd's forward-over-reverse products through the plain GELU."""

import pytest
import torch
from torch import nn

from bayestda.core.params import FlatView
from bayestda.data.subsets import load_subset
from bayestda.models.cnn import build_cnn
from bayestda.numerics.hvp import HessianOperator, batch_hvp


def products(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    params = {n: p.detach().clone() for n, p in net.named_parameters()}
    vectors = torch.randn(3, FlatView.of(params).numel, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    operator = HessianOperator(net, params, x, y)
    return torch.stack([operator(v) for v in vectors]), batch_hvp(net, params, x, y, vectors)


def test_the_paper_cnns_hessian_products_equal_autograds(mnist3_subsets):
    train = load_subset("mnist3", "train", 10)
    torch.manual_seed(0)
    net = build_cnn("cnn", 1).double()
    ours, reference = products(net, train.x.double(), train.y)
    assert (ours - reference).norm() <= 1e-10 * reference.norm()


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_modules_either_form_give_the_hessians_products(mnist3_subsets, approximate):
    train = load_subset("mnist3", "train", 10)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.GELU(approximate=approximate), nn.Linear(16, 10)).double()
    ours, reference = products(net, train.x.double(), train.y)
    assert (ours - reference).norm() <= 1e-10 * reference.norm()
