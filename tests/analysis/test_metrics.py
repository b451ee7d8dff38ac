"""LOO correlation beside the posterior test: Spearman as scipy computes it, helpful signs applied, one posterior
sample vs the posterior mean, and the per-method table methods.csv on real scores."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr, spearmanr

from bayestda.analysis import PosteriorScores, posterior_test
from bayestda.analysis.metrics import loo_correlation, pearson_per_column, spearman_per_column
from bayestda.attribution import helpful_signs
from bayestda.core.errors import BayesTDAError
from bayestda.results.analysis import load_all


def test_spearman_per_column_is_scipys_spearmanr_with_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, size=(30, 12)).astype(float)  # many ties
    b = a + rng.normal(size=a.shape)
    expected = [spearmanr(a[:, j], b[:, j]).statistic for j in range(a.shape[1])]
    np.testing.assert_allclose(spearman_per_column(a, b), expected, rtol=1e-12)


def test_a_constant_column_is_left_out_not_averaged_as_nan():
    a = np.arange(20.0).reshape(10, 2)
    a[:, 1] = 3.0
    rho = spearman_per_column(a, a)
    assert rho[0] == pytest.approx(1.0) and np.isnan(rho[1])
    truth = PosteriorScores.from_array("loo_corrected", np.broadcast_to(a, (2, 1, 10, 2)))
    single, mean = loo_correlation(truth, truth, k=1)
    assert single == pytest.approx(1.0) and mean == pytest.approx(1.0)


def _posterior(name, values):
    return PosteriorScores.from_array(name, values)


def test_helpful_signs_make_a_perfect_negative_convention_method_read_plus_one():
    rng = np.random.default_rng(1)
    loo = rng.normal(size=(3, 5, 20, 4))
    single, mean = loo_correlation(_posterior("if", -loo.mean(axis=(0, 1))[None, None].repeat(3, 0)),
                                   _posterior("loo_corrected", loo), k=5, sign=-1)
    assert single == pytest.approx(1.0) and mean == pytest.approx(1.0)


def test_the_posterior_mean_beats_one_sample_when_samples_are_truth_plus_noise():
    """Independent noise per posterior sample averages out: the mean's LOO correlation is higher than one sample's."""
    rng = np.random.default_rng(2)
    signal = rng.normal(size=(30, 50))
    loo = signal[None, None] + 0.1 * rng.normal(size=(10, 5, 30, 50))
    noisy = signal[None, None] + 2.0 * rng.normal(size=(10, 5, 30, 50))
    single, mean = loo_correlation(_posterior("gd", noisy), _posterior("loo_corrected", loo), k=5)
    assert 0.2 < single < mean and mean > 0.9


def test_methods_table_on_real_scores_matches_a_direct_computation(small_run, tmp_path):
    """The small real run's scores through posterior_test with ATS standing in as the retraining truth."""
    experiment, seeds, methods = small_run
    posteriors = load_all(experiment, methods, seeds)
    result = posterior_test(posteriors, out=tmp_path, truth="ats", signs=helpful_signs())
    table = pd.read_csv(tmp_path / "methods.csv").set_index("method")
    assert list(table.index) == methods
    assert {"mean_p", "fraction_p_below_0.05", "significant_after_BH_5%", "loo_corr_single", "loo_corr_mean"} <= set(table.columns)
    truth = -posteriors["ats"].values.mean(axis=(0, 1))  # ATS: negative = helpful
    gd = posteriors["gd"].values
    direct_mean = np.nanmean([spearmanr(gd.mean(axis=(0, 1))[:, j], truth[:, j]).statistic for j in range(truth.shape[1])])
    direct_single = np.nanmean([[spearmanr(gd[s, c][:, j], truth[:, j]).statistic for j in range(truth.shape[1])]
                                for s in range(gd.shape[0]) for c in range(gd.shape[1])])
    assert table.loc["gd", "loo_corr_mean"] == pytest.approx(direct_mean, abs=1e-9)
    assert table.loc["gd", "loo_corr_single"] == pytest.approx(direct_single, abs=1e-9)
    pearson_mean = np.nanmean([pearsonr(gd.mean(axis=(0, 1))[:, j], truth[:, j]).statistic for j in range(truth.shape[1])])
    assert table.loc["gd", "loo_pearson_mean"] == pytest.approx(pearson_mean, abs=1e-9)  # dattri's loo_corr
    assert "## Methods (methods.csv)" in result.summary and "posterior mean of `ats`" in result.summary


def test_scores_of_other_items_are_refused_in_one_line():
    a = _posterior("gd", np.zeros((2, 1, 3, 2)))
    b = PosteriorScores.from_array("loo_corrected", np.ones((2, 1, 3, 2)), train_idx=[7, 8, 9])
    with pytest.raises(BayesTDAError, match="score other train or test items"):
        loo_correlation(a, b, k=1)


def test_pearson_per_column_is_scipys_pearsonr():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(20, 6)), rng.normal(size=(20, 6))
    b[:, 0] = a[:, 0] * 2 + 1  # a perfect linear relation reads 1
    ours = pearson_per_column(a, b)
    assert ours[0] == pytest.approx(1.0)
    np.testing.assert_allclose(ours, [pearsonr(a[:, j], b[:, j]).statistic for j in range(6)], atol=1e-12)
