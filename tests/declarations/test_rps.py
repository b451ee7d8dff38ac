"""Representer point selection: the last layer fine-tuned with its L2 penalty to the same minimum as scipy's
L-BFGS finds, every logit split exactly over the train items, and the scores the definition's."""

import numpy as np
import pytest
import torch
from references import checkpoint_data, rps_definition

from bayestda.attribution import CheckpointContext, RPSSettings, rps
from bayestda.attribution.rps import last_linear
from bayestda.core.errors import BayesTDAError

SEED = 446


@pytest.fixture(scope="module")
def ctx(trained_seed, experiment):
    net, params, train, test = checkpoint_data(experiment, SEED, 14, 40)
    return CheckpointContext(net, params, train, test, SEED, 15, dtype=torch.float64)


def test_rps_equals_its_definition_with_scipys_minimiser(ctx):
    settings = RPSSettings()
    name, _ = last_linear(ctx.net, ctx.params)
    assert name == "fc2"
    w_star, alpha, f_train, reference = rps_definition(ctx, settings.l2)
    np.testing.assert_allclose(alpha.T @ f_train, w_star, atol=1e-6 * np.abs(w_star).max())  # the representer split

    ours = rps(ctx, settings).numpy()
    assert np.abs(ours - reference).max() <= 1e-6 * np.abs(reference).max()


def test_a_non_positive_l2_strength_is_refused_in_one_line(ctx):
    with pytest.raises(BayesTDAError, match="RPS L2 strength 0.0 is out of range; it must be > 0"):
        rps(ctx, RPSSettings(l2=0.0))
