"""EK-FAC influence: the same scores as kronfluence's EK-FAC on the paper's CNN (both Fishers, float64 rounding),
an inverse that is the inverse of the factored curvature, and one-line errors for a damping out of range."""

import subprocess
import sys

import pytest
import torch
from references import checkpoint_data, kronfluence_ekfac

from bayestda.attribution import CheckpointContext, EKFACSettings, ekfac_influence
from bayestda.attribution.ekfac import _apply, _flatten, _layer_matrices, _layers, fit_factors
from bayestda.core.errors import BayesTDAError
from bayestda.core.paths import REPO_ROOT

SEED = 446


@pytest.fixture(scope="module")
def checkpoint(trained_seed, experiment):
    return checkpoint_data(experiment, SEED, 14, 40)


@pytest.mark.slow
@pytest.mark.parametrize("fisher", ["empirical", "expected"])
def test_ekfac_equals_kronfluences_ekfac(checkpoint, fisher):
    net, params, train, test = checkpoint
    ctx = CheckpointContext(net, params, train, test, SEED, 15, dtype=torch.float64)
    ours = ekfac_influence(ctx, EKFACSettings(fisher=fisher))
    reference = kronfluence_ekfac(net, params, train, test, damping=5e-3, fisher=fisher)
    assert ours.shape == reference.shape == (30, 40)
    assert (ours - reference).abs().max() <= 1e-9 * reference.abs().max()


def test_the_two_fishers_differ_so_the_comparison_can_tell_them_apart(checkpoint):
    net, params, train, test = checkpoint
    ctx = CheckpointContext(net, params, train, test, SEED, 15, dtype=torch.float64)
    expected, empirical = (ekfac_influence(ctx, EKFACSettings(fisher=f)) for f in ("expected", "empirical"))
    assert (expected - empirical).abs().max() > 1e-3 * expected.abs().max()


def test_the_inverse_undoes_the_damped_factored_curvature(checkpoint):
    net, params, train, test = checkpoint
    ctx = CheckpointContext(net, params, train, test, SEED, 15, dtype=torch.float64)
    layers = _layers(ctx)
    factors = fit_factors(ctx)
    vectors = torch.randn(3, ctx.view.numel, dtype=torch.float64)
    matrices = _layer_matrices(ctx, layers, vectors)
    round_trip = _apply(factors, _apply(factors, matrices, 5e-3, inverse=True), 5e-3, inverse=False)
    torch.testing.assert_close(_flatten(ctx, layers, round_trip), vectors, rtol=1e-9, atol=1e-9)
    assert torch.equal(_flatten(ctx, layers, matrices), vectors)  # the layer matrices hold every parameter once


@pytest.mark.parametrize("damping", [0.0, -1.0, 1e7])
def test_a_damping_out_of_range_is_refused_in_one_line(damping):
    with pytest.raises(BayesTDAError, match=rf"--ekfac-damping {damping}: must be a number from 1e-12 to 1e6"):
        EKFACSettings(damping=damping).check()


@pytest.mark.slow
def test_the_script_flag_refuses_a_bad_damping_in_one_line(trained_seed):
    result = subprocess.run([sys.executable, "tda_cnn_scripts/run_cnn_all.py", "--methods", "ekfac", "--ekfac-damping",
                             "-1"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: argument --ekfac-damping: -1 is out of range; allowed: "
                                                  "1e-12..1e+06"]
