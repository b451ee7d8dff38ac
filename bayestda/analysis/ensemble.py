"""One score per pair from the whole posterior: the ensemble Bayesian influence, −Cov over the experiment's own
posterior samples of a train item's loss and a test item's loss (Kreer et al. 2025 with the posterior as sampled).

It goes through the metrics as a method whose samples are the covariance's terms: sample s holds
−N/(N − 1)·(ℓ_s(z_i) − ℓ̄(z_i))·(ℓ_s(z) − ℓ̄(z)), so the posterior mean over all N samples is exactly −Cov (ddof 1)
and the bootstrap over seeds resamples the terms (the means ℓ̄ held at the full posterior's). The posterior tests
do not apply to terms: the analysis reports its metrics and marks its test columns not applicable.
"""

from __future__ import annotations

import numpy as np

from .posterior import PosteriorScores


def ensemble_bif(method: str, train_losses: np.ndarray, test_losses: np.ndarray, seeds: list, checkpoints: list,
                 train_idx, test_idx, test_columns: list[str] | None = None) -> PosteriorScores:
    """The covariance's terms [seeds, checkpoints, n_train, n_test] from each sample's losses, [S, K, n] and [S, K, m]."""
    a = np.asarray(train_losses, dtype=np.float64)
    b = np.asarray(test_losses, dtype=np.float64)
    samples = a.shape[0] * a.shape[1]
    da = a - a.mean(axis=(0, 1))
    db = b - b.mean(axis=(0, 1))
    terms = -(samples / (samples - 1)) * np.einsum("skn,skm->sknm", da, db)
    return PosteriorScores(method, terms, list(seeds), list(checkpoints), np.asarray(train_idx), np.asarray(test_idx),
                           test_columns)
