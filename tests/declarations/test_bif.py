"""The Bayesian influence function is minus the covariance of a train item's and a test item's losses over local
SGLD draws: checked against the losses computed one model at a time with nn.Module and numpy's covariance."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from bayestda.attribution import BifSettings, get
from bayestda.attribution.bif import bif, local_draws
from bayestda.core.errors import BadInput
from bayestda.scores.pipeline import make_context


def test_bif_is_minus_the_covariance_of_losses_over_the_same_local_draws(trained_seed, experiment):
    ctx = make_context(experiment, 446, 14, dtype=torch.float64)
    settings = BifSettings(draws=6, burn_in=3, thin=2)
    scores = bif(ctx, settings).numpy()
    draws = local_draws(make_context(experiment, 446, 14, dtype=torch.float64), settings)
    net = ctx.net
    train_losses, test_losses = [], []
    for params in draws:
        net.load_state_dict(params)
        with torch.no_grad():
            train_losses.append(F.cross_entropy(net(ctx.train.x), ctx.train.y, reduction="none").numpy())
            test_losses.append(F.cross_entropy(net(ctx.test.x), ctx.test.y, reduction="none").numpy())
    n = len(ctx.train.y)
    joint = np.cov(np.concatenate([np.array(train_losses), np.array(test_losses)], axis=1).T)
    np.testing.assert_allclose(scores, -joint[:n, n:], rtol=1e-8, atol=1e-12)
    assert scores.shape == (30, 900) and np.abs(scores).max() > 0


def test_bif_draws_stay_near_the_checkpoint_and_its_settings_are_checked_and_recorded(trained_seed, experiment):
    ctx = make_context(experiment, 446, 14)
    draws = local_draws(ctx, BifSettings(draws=3, burn_in=5, thin=5))
    moved = [float(sum(((d[k] - ctx.params[k]) ** 2).sum() for k in d).sqrt()) for d in draws]
    assert all(0 < m < 30 for m in moved)  # localised (γ = 1000): a few units from θ_t in 225,034 dimensions
    method = get("bif")
    assert method.helpful_sign == -1 and not method.default and method.settings["localisation"] == 1000.0
    try:
        BifSettings(draws=2).check()
    except BadInput as error:
        assert "bif setting draws = 2 is out of range" in str(error)
    else:
        raise AssertionError("draws = 2 was accepted")
