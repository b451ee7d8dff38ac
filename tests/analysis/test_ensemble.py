"""bif_ensemble: one score per pair over the posterior's own samples. Its samples are the covariance's terms, so
the posterior mean is exactly −Cov of the losses (numpy's, ddof 1); the analysis gives it every metric and no
test (its test columns are not applicable, its pairs are in no significance table)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayestda.analysis.ensemble import ensemble_bif
from bayestda.analysis.methods_table import NOT_TESTED
from bayestda.results.analysis import load_all, posterior_losses, run_correlations, run_pvalues


def test_the_ensemble_bif_terms_average_to_minus_the_covariance_of_the_losses():
    rng = np.random.default_rng(0)
    train, test = rng.gamma(2.0, size=(4, 3, 5)), rng.gamma(2.0, size=(4, 3, 7))
    post = ensemble_bif("bif_ensemble", train, test, list(range(4)), [0, 1, 2], np.arange(5), np.arange(7))
    joint = np.cov(np.concatenate([train.reshape(12, 5), test.reshape(12, 7)], axis=1).T)
    np.testing.assert_allclose(post.values.mean(axis=(0, 1)), -joint[:5, 5:], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(post.last_k_mean(3).mean(axis=0), -joint[:5, 5:], rtol=1e-12, atol=1e-15)


def test_bif_ensemble_gets_every_metric_and_no_test_in_an_experiments_analysis(small_run):
    experiment, seeds, _ = small_run
    methods = ["ats", "gd", "bif_ensemble"]
    posteriors = load_all(experiment, methods, seeds)
    losses = posterior_losses(experiment, seeds)
    assert losses[0].shape == (3, 5, 100) and losses[1].shape == (3, 5, 10)
    significance = run_pvalues(experiment, methods, seeds, posteriors=posteriors)
    assert "bif_ensemble" not in set(significance["method"])
    run_correlations(experiment, methods, seeds, lds_subsets=0, posteriors=posteriors)
    table = pd.read_csv(experiment.analysis_dir(methods, seeds) / "methods.csv", index_col="method")
    row = table.loc["bif_ensemble"]
    assert row["test"] == NOT_TESTED and np.isnan(row["fraction_p_below_0.05"]) and row["K"] == 5
    assert row["helpful_sign"] == -1  # (no truth among these methods: its metrics are checked on the real run)
    summary = (experiment.analysis_dir(methods, seeds) / "summary.md").read_text()
    assert "nan%" not in summary and "n/a" in summary
