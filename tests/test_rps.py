"""Representer point selection: the last layer fine-tuned with its L2 penalty to the same minimum as scipy's
L-BFGS finds, every logit split exactly over the train items, and the scores the definition's."""

import numpy as np
import pytest
import torch
from references import checkpoint_data, scipy_minimiser

from bayestda.attribution import CheckpointContext, RPSSettings, rps
from bayestda.attribution.rps import features, last_linear
from bayestda.errors import BayesTDAError

SEED = 446


@pytest.fixture(scope="module")
def ctx(trained_seed, experiment):
    net, params, train, test = checkpoint_data(experiment, SEED, 14, 40)
    return CheckpointContext(net, params, train, test, SEED, 15, dtype=torch.float64)


def test_rps_equals_its_definition_with_scipys_minimiser(ctx):
    settings = RPSSettings()
    name, layer = last_linear(ctx.net, ctx.params)
    assert name == "fc2"
    f_train, f_test = features(ctx, ctx.train.x, layer).numpy(), features(ctx, ctx.test.x, layer).numpy()
    w0, b = ctx.params["fc2.weight"].numpy(), ctx.params["fc2.bias"].numpy()
    y, y_test = ctx.train.y.numpy(), ctx.test.y.numpy()
    w_star = scipy_minimiser(f_train, y, w0, b, settings.l2)

    logits = f_train @ w_star.T + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    alpha = -(p - np.eye(10)[y]) / (2 * settings.l2 * len(y))
    np.testing.assert_allclose(alpha.T @ f_train, w_star, atol=1e-6 * np.abs(w_star).max())  # the representer split
    reference = alpha[:, y_test] * (f_train @ f_test.T)

    ours = rps(ctx, settings).numpy()
    assert np.abs(ours - reference).max() <= 1e-6 * np.abs(reference).max()


def test_a_non_positive_l2_strength_is_refused_in_one_line(ctx):
    with pytest.raises(BayesTDAError, match="RPS L2 strength 0.0 is out of range; it must be > 0"):
        rps(ctx, RPSSettings(l2=0.0))
