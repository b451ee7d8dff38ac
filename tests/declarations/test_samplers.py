"""Posterior samplers: each checked against an independent computation (SWAG's moments and draws, SGLD's
stationary distribution on a Gaussian posterior, the Laplace precision as the GGN plus the prior), and declared
like methods: names, settings and the families they support give one line when wrong."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bayestda.core.errors import BadInput
from bayestda.core.losses import Loss
from bayestda.experiments.experiment import Experiment
from bayestda.experiments.studies import get_study
from bayestda.numerics.langevin import LangevinSettings, langevin_draws
from bayestda.samplers import DEFAULT_SAMPLER, SamplerInput, all_samplers, get_sampler
from bayestda.samplers.laplace import gaussian_draws, last_layer, last_layer_precision
from bayestda.samplers.swag import SwagMoments


def test_swag_fits_the_snapshots_mean_and_variance_and_draws_with_swags_covariance():
    generator = torch.Generator().manual_seed(0)
    snapshots = torch.randn(5, 4, generator=generator, dtype=torch.float64)
    moments = SwagMoments.fit(snapshots, rank=5)
    data = snapshots.numpy()
    np.testing.assert_allclose(moments.mean.numpy(), data.mean(0), rtol=1e-12)
    np.testing.assert_allclose(moments.variance.numpy(), data.var(0), rtol=1e-10)
    draws = torch.stack([moments.sample(generator) for _ in range(40_000)]).numpy()
    deviations = data - data.mean(0)
    expected = 0.5 * (np.diag(data.var(0)) + deviations.T @ deviations / 4)
    np.testing.assert_allclose(np.cov(draws.T), expected, atol=0.04 * np.abs(expected).max())
    np.testing.assert_allclose(draws.mean(0), data.mean(0), atol=0.03)


class HalfSquare(Loss):
    """½(o − y)²: with a one-weight linear model on x = 1, the posterior of the weight is Gaussian."""

    name = "half_square"

    def __call__(self, outputs, y, reduction="mean"):
        per_item = 0.5 * (outputs[:, 0] - y) ** 2
        return per_item.sum() if reduction == "sum" else per_item.mean() if reduction == "mean" else per_item


@pytest.mark.parametrize(("temperature", "localisation"), [(1.0, 0.0), (0.5, 10.0)])
def test_sgld_samples_a_gaussian_posterior_at_its_mean_and_variance(temperature, localisation):
    net = nn.Linear(1, 1, bias=False)
    y = torch.linspace(-1.0, 3.0, 20, dtype=torch.float32)
    x = torch.ones(20, 1)
    start = {"weight": torch.full((1, 1), 2.0)}
    prior = 2.0
    precision = len(y) + prior + localisation  # the log posterior's curvature
    mean = (float(y.sum()) + localisation * 2.0) / precision
    settings = LangevinSettings(step=2e-3, temperature=temperature, burn_in=300, thin=4, localisation=localisation)
    draws = langevin_draws(net, start, x, y, 3000, settings, prior, seed=1, loss=HalfSquare())
    values = np.array([float(d["weight"]) for d in draws])
    assert abs(values.mean() - mean) < 4 * np.sqrt(temperature / precision / 300)
    assert values.var() == pytest.approx(temperature / precision, rel=0.15)


def test_the_last_layer_laplace_precision_is_the_ggn_of_the_summed_loss_plus_the_prior():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3)).double()
    params = {n: p.detach() for n, p in net.named_parameters()}
    x, y = torch.randn(7, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2, 0])
    given = SamplerInput(net, [params], x, y, weight_decay=0.0, seed=0)
    names = last_layer(net, params)
    assert names == ["2.bias", "2.weight"]  # posteriors' order
    precision = last_layer_precision(given, names, prior=0.3)
    hidden = torch.relu(x @ params["0.weight"].T + params["0.bias"])
    expected = 0.3 * torch.eye(18, dtype=torch.float64)
    for h, logits in zip(hidden, hidden @ params["2.weight"].T + params["2.bias"]):
        p = torch.softmax(logits, 0)
        jacobian = torch.cat([torch.eye(3, dtype=torch.float64), torch.kron(torch.eye(3, dtype=torch.float64), h[None])], 1)
        expected += jacobian.T @ (torch.diag(p) - torch.outer(p, p)) @ jacobian
    np.testing.assert_allclose(precision.numpy(), expected.numpy(), rtol=1e-7)  # posteriors adds λI in float32


def test_laplace_draws_have_the_inverse_precision_as_covariance():
    generator = torch.Generator().manual_seed(3)
    a = torch.randn(3, 3, generator=generator, dtype=torch.float64)
    precision = a @ a.T + torch.eye(3, dtype=torch.float64)
    mean = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    draws = gaussian_draws(mean, precision, generator, 50_000).numpy()
    covariance = np.linalg.inv(precision.numpy())
    np.testing.assert_allclose(np.cov(draws.T), covariance, atol=0.03 * np.abs(covariance).max())
    np.testing.assert_allclose(draws.mean(0), mean.numpy(), atol=0.02)


def test_a_sampler_is_part_of_the_experiments_name_and_the_papers_has_no_suffix():
    assert all_samplers()[:6] == [DEFAULT_SAMPLER, "seeds", "trajectory", "swag", "sgld", "laplace"]
    swag = Experiment.parse("cnn_mnist3_10pc_r1_swag")
    assert (swag.sampler, swag.subset_seed, swag.name, swag.base.name) == ("swag", 1, "cnn_mnist3_10pc_r1_swag",
                                                                          "cnn_mnist3_10pc_r1")
    assert swag.checkpoint_epochs == [0, 1, 2, 3, 4] and swag.model_dir(446).parent.name == "mnist3_10pc_r1_swag"
    seeds = Experiment.parse("cnn_mnist3_10pc_seeds")
    assert seeds.scores_dir("gd", 446) == seeds.base.scores_dir("gd", 446)  # a view reads the paper's files
    assert seeds.results_dir() != seeds.base.results_dir()
    assert swag.lds_target_dir(1) == swag.base.lds_target_dir(1)  # one truth for every sampler


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Experiment.parse("cnn_mnist3_10pc_mcmc"), "unknown sampler 'mcmc'; allowed: seeds-x-checkpoints, seeds"),
    (lambda: Experiment("vit", "mnist3", 10, sampler="sgld"), "sampler 'sgld' does not support model 'vit'"),
    (lambda: get_sampler("swag").with_settings("depth=2"), "sampler 'swag' has no setting 'depth'; allowed: rank, scale"),
    (lambda: get_sampler("swag").with_settings("rank=9"), "swag setting rank = 9 is out of range; allowed: 2..5"),
    (lambda: get_sampler("sgld").with_settings("step=-1"), "sgld setting step = -1.0 is out of range"),
    (lambda: get_sampler("sgld").with_settings("thin=two"), "sampler 'sgld' setting thin = 'two' is not a int"),
    (lambda: get_sampler("laplace").with_settings("temperature"), "is not key=value"),
    (lambda: get_sampler("seeds").with_settings("rank=2"), "sampler 'seeds' takes no settings"),
])
def test_a_bad_sampler_name_family_or_setting_gets_one_line(make, message):
    with pytest.raises(BadInput, match=None) as error:
        make()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_views_rearrange_the_papers_checkpoints_into_samples():
    values = np.arange(10 * 5 * 2 * 3, dtype=float).reshape(10, 5, 2, 3)
    seeds, ckpts = list(range(10)), [10, 11, 12, 13, 14]
    same, s, c = get_sampler(DEFAULT_SAMPLER).arrange(values, seeds, ckpts)
    assert same is values and s == seeds and c == ckpts
    last, s, c = get_sampler("seeds").arrange(values, seeds, ckpts)
    assert last.shape == (10, 1, 2, 3) and c == [14] and np.array_equal(last[:, 0], values[:, 4])
    one, s, c = get_sampler("trajectory").arrange(values, seeds, ckpts)
    assert one.shape == (5, 1, 2, 3) and s == ["0@10", "0@11", "0@12", "0@13", "0@14"]
    assert np.array_equal(one[:, 0], values[0])


def test_a_study_under_another_sampler_names_its_experiments_and_is_found_by_its_name():
    study = get_study("fragility_swag")
    assert study.name == "fragility_swag" and all(name.endswith("_swag") for name in study.experiments)
    assert get_study("samplers").varied == ("sampler",)
    with pytest.raises(BadInput, match="--study 'fragility_mcmc'"):
        get_study("fragility_mcmc")
