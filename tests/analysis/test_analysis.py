"""The paper's statistics: p-values match scipy, per-seed checkpoint means come first, correlations match
numpy/scipy, and the whole analysis runs on a small real run."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayestda.analysis.correlations import correlation_matrices
from bayestda.analysis.posterior import PosteriorScores
from bayestda.analysis.statistics import benjamini_hochberg, t_pvalues, z_pvalues
from bayestda.core.errors import BayesTDAError
from bayestda.results.analysis import run_correlations, run_pvalues

RNG = np.random.default_rng(0)


def test_z_pvalues_are_the_papers_formula_and_t_pvalues_match_scipy():
    samples = RNG.normal(0.3, 1.0, size=(10, 4, 5))
    mu, sigma = samples.mean(0), samples.std(0, ddof=1)
    assert np.allclose(z_pvalues(samples), 2 * (1 - stats.norm.cdf(np.abs(mu / sigma))))
    assert np.allclose(t_pvalues(samples), stats.ttest_1samp(samples, 0.0, axis=0).pvalue)


def test_zero_variance_pairs_give_defined_pvalues_not_nan():
    samples = np.zeros((10, 1, 3))
    samples[:, 0, 1] = 0.7  # every posterior sample agrees on a non-zero score
    samples[:, 0, 2] = RNG.normal(size=10)
    p = z_pvalues(samples)
    assert p[0, 0] == 1.0 and p[0, 1] == 0.0 and 0 < p[0, 2] < 1
    assert not np.isnan(t_pvalues(samples)).any()


def test_checkpoints_are_averaged_per_seed_before_statistics_across_seeds():
    values = RNG.normal(size=(10, 5, 2, 3))
    post = PosteriorScores("gd", values, list(range(10)), list(range(10, 15)), np.arange(2), np.arange(3))
    per_seed = values[:, -3:].mean(axis=1)
    assert np.allclose(post.last_k_mean(3), per_seed)
    pooled = values[:, -3:].reshape(30, 2, 3)  # the wrong way: every checkpoint a separate sample
    assert not np.allclose(z_pvalues(post.last_k_mean(3)), z_pvalues(pooled))


def step_up_bh(p: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Benjamini-Hochberg by its definition: reject the k smallest p-values, k the largest rank with p_(k) <= k·alpha/m."""
    order = np.argsort(p)
    passed = np.nonzero(p[order] <= alpha * np.arange(1, len(p) + 1) / len(p))[0]
    mask = np.zeros(len(p), dtype=bool)
    if len(passed):
        mask[order[: passed[-1] + 1]] = True
    return mask


def test_benjamini_hochberg_through_scipy_counts_as_the_step_up_definition():
    for exponent in (1, 3, 8):
        p = RNG.uniform(size=500) ** exponent
        assert np.array_equal(benjamini_hochberg(p), step_up_bh(p))
        assert benjamini_hochberg(p.reshape(20, 25)).shape == (20, 25)


def test_correlation_matrices_match_numpy_and_scipy():
    table = pd.DataFrame(RNG.normal(size=(50, 3)), columns=["loo", "gd", "if"])
    table["if"] = -table["gd"] + 0.1 * table["if"]
    matrices = correlation_matrices(table)
    assert np.allclose(matrices["pearson"].to_numpy(), np.corrcoef(table.to_numpy(), rowvar=False))
    assert np.allclose(matrices["spearman"].to_numpy(), stats.spearmanr(table.to_numpy()).statistic)


def test_whole_analysis_runs_on_a_small_real_run(small_run):
    experiment, seeds, methods = small_run
    significance = run_pvalues(experiment, methods, seeds)
    summary = run_correlations(experiment, methods, seeds)
    out = experiment.analysis_dir(methods, seeds)
    for name in ["mean_p_values.csv", "significance.csv", "spearman_corr_mu.csv", "pearson_corr_snr.csv",
                 "noise_decomposition.csv", "spearman_corr.png", "spearman_corr.pdf", "noise_decomposition.png"]:
        assert (out / name).exists(), name
    p = pd.read_csv(out / "pvalues_gd_across_5_ckpts.csv")
    assert p.shape == (100, 11) and p.iloc[:, 1:].to_numpy().min() >= 0
    assert set(significance["method"]) == set(methods)
    mean_p = pd.read_csv(out / "mean_p_values.csv", index_col="K")
    assert list(mean_p.index) == [1, 2, 3, 4, 5] and list(mean_p.columns) == methods
    noise = pd.read_csv(out / "noise_decomposition.csv")
    assert np.allclose(noise["between_seed_fraction"] + noise["within_run_fraction"], 1)
    assert "1. Most pairs are not sign-reliable" in summary and "4. Initialisation" in summary
    spearman = pd.read_csv(out / "spearman_corr_mu.csv", index_col=0)
    assert spearman.loc["if", "gd"] < -0.99  # one-pass LiSSA: IF is a rescaled negative Grad-Dot


def test_missing_scores_are_named_with_the_command_and_nothing_is_written(small_run):
    experiment, seeds, _ = small_run
    with pytest.raises(BayesTDAError) as info:
        run_pvalues(experiment, ["loo"], seeds)
    assert "loo (seeds 446, 724, 571; checkpoints 10, 11, 12, 13, 14" in str(info.value)
    assert "run_cnn_loo.py --arch cnn --task mnist --num_per_class 10 --seed_id 0" in str(info.value)
    assert not (experiment.analysis_dir(["loo"], seeds) / "pvalues_loo_across_1_ckpts.csv").exists()
