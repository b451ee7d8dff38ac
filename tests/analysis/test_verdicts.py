"""The statistics under the verdicts: each test answers its own question at its stated rate, intervals resample
what varies, comparisons are paired and corrected, ceilings and variance components are what their formulas say.
Each checked against scipy or a direct loop."""

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayestda.analysis.advice import advice_table
from bayestda.analysis.ceilings import loo_reliability, spearman_brown
from bayestda.analysis.classes import ItemClasses
from bayestda.analysis.comparisons import compare, with_holm
from bayestda.analysis.methods_table import evaluate_methods
from bayestda.analysis.metrics import TruthTargets, loo_resampled, pearson_per_column, spearman_per_column
from bayestda.analysis.noise import decompose, variance_components
from bayestda.analysis.nulls import null_table, shuffled
from bayestda.analysis.posterior import PosteriorScores
from bayestda.analysis.pvalues import pvalue_tables
from bayestda.analysis.replicates import replicate_table
from bayestda.analysis.resampling import draw, ranks
from bayestda.analysis.seed_count import seed_count_table, seed_subsets
from bayestda.analysis.statistics import (
    TESTS,
    fractions_passing,
    holm,
    predictive_pvalues,
    predictive_threshold,
    sign_pvalues,
    t_pvalues,
    z_pvalues,
)

RNG = np.random.default_rng(7)


def _posterior(method, values):
    return PosteriorScores.from_array(method, values)


def _within(rate: float, hits: int, n: int) -> bool:
    """Whether `hits` of `n` is inside the 99.9% binomial interval of `rate`."""
    low, high = stats.binom.interval(0.999, n, rate)
    return low <= hits <= high


def test_each_test_is_its_reference_computation():
    samples = RNG.normal(0.3, 1.0, size=(10, 40, 6))
    samples[:, 0, 0] = 0.0  # every sample zero
    samples[:3, 1, 0] = 0.0  # some zeros: the sign test drops them
    assert np.allclose(t_pvalues(samples)[1:], stats.ttest_1samp(samples, 0.0, axis=0).pvalue[1:])
    mu, sigma = samples.mean(axis=0), samples.std(axis=0, ddof=1)
    assert np.allclose(z_pvalues(samples)[1:], 2 * stats.norm.sf(np.abs(mu / sigma))[1:])
    p_sign = sign_pvalues(samples)
    for i in range(40):
        for j in range(6):
            column = samples[:, i, j]
            nonzero = column[column != 0]
            expected = 1.0 if not len(nonzero) else stats.binomtest(int((nonzero > 0).sum()), len(nonzero)).pvalue
            assert p_sign[i, j] == pytest.approx(expected)
    half_width = stats.t.ppf(0.975, 9) * sigma * np.sqrt(1 + 1 / 10)  # the 95% prediction interval of a new sample
    excludes_zero = (mu - half_width > 0) | (mu + half_width < 0)
    assert np.array_equal((predictive_pvalues(samples) < 0.05)[1:], excludes_zero[1:])
    assert predictive_threshold(10) == pytest.approx(stats.t.ppf(0.975, 9) * np.sqrt(1.1))


@pytest.mark.parametrize("seeds", [3, 10])
def test_on_pure_noise_each_test_fires_at_its_stated_rate(seeds):
    n = 200_000
    noise = RNG.normal(size=(seeds, n))
    for test in TESTS:
        hits = int((test.pvalues(noise) < 0.05).sum())
        assert _within(test.noise_rate(seeds), hits, n), (test.key, hits / n, test.noise_rate(seeds))
    assert TESTS[1].noise_rate(seeds) == 0.05  # the t-test: a 5% test of a non-zero mean
    assert TESTS[0].noise_rate(10) < 1e-3  # the paper's z-test: no 5% test (sign reliability)
    assert TESTS[2].noise_rate(10) == pytest.approx(22 / 1024)  # the sign test's exact size at 10 seeds


def test_the_predictive_rule_covers_a_new_model_at_95_percent_and_its_passing_pairs_rarely_flip():
    n, seeds = 100_000, 10
    means = RNG.normal(0, 1.0, size=n)
    samples = means + RNG.normal(size=(seeds, n))
    new = means + RNG.normal(size=n)
    mu, sigma = samples.mean(axis=0), samples.std(axis=0, ddof=1)
    half_width = stats.t.ppf(0.975, seeds - 1) * sigma * np.sqrt(1 + 1 / seeds)
    outside = int(((new < mu - half_width) | (new > mu + half_width)).sum())
    assert _within(0.05, outside, n)  # a new sample leaves its 95% prediction interval 5% of the time
    passing = predictive_pvalues(samples) < 0.05
    flipped = np.sign(new) != np.sign(mu)
    # the 95% is marginal, not a bound per passing pair (selection inflates |μ|), yet passing pairs rarely flip
    assert flipped[passing].mean() < 0.05 and flipped[~passing].mean() > 4 * flipped[passing].mean()


def test_the_significance_table_names_every_test_by_its_question():
    table = pvalue_tables({"gd": _posterior("gd", RNG.normal(size=(10, 2, 5, 4)))}).table
    assert list(table["test"].unique()) == ["z (paper)", "t, 9 dof", "sign, 10 seeds", "predictive, 9 dof"]
    assert table.groupby("test")["question"].nunique().eq(1).all() and table["question"].str.len().gt(20).all()


def test_fast_ranks_are_scipys_average_ranks_with_ties():
    values = RNG.integers(0, 4, size=(3, 7, 9)).astype(float)  # many ties
    values[0, :, 0] = RNG.normal(size=7)
    for axis in (-1, -2, 0):
        assert np.array_equal(ranks(values, axis), stats.rankdata(values, axis=axis))


def test_holm_is_the_step_down_procedure():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2])
    order = np.argsort(p)
    expected = np.empty(5)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (5 - rank) * p[i]))
        expected[i] = running
    assert np.allclose(holm(p), expected)


def test_posterior_mean_intervals_resample_seeds_for_the_method_and_the_truth_together():
    seeds, n_train, n_test = 6, 8, 5
    truth = _posterior("loo_corrected", RNG.normal(size=(seeds, 2, n_train, n_test)))
    method = _posterior("gd", truth.values + RNG.normal(size=truth.values.shape))
    draws = draw(seeds, n_test, resamples=20, seed_draws=10)
    value = loo_resampled(method, TruthTargets.of(truth, draws), 2, draws)
    for r in range(3):  # a direct loop: the drawn seeds (with repeats), then the drawn items
        picked = np.repeat(np.arange(seeds), draws.seeds[draws.seed_draw[r]].astype(int))
        rho = [stats.spearmanr(method.values[picked].mean(axis=(0, 1))[:, j],
                               truth.values[picked].mean(axis=(0, 1))[:, j]).statistic for j in range(n_test)]
        items = np.repeat(np.arange(n_test), draws.items[r].astype(int))
        assert value.mean_draws[r] == pytest.approx(np.mean(np.array(rho)[items]))
    assert value.mean == pytest.approx(np.mean([stats.spearmanr(method.values.mean(axis=(0, 1))[:, j],
                                                                truth.values.mean(axis=(0, 1))[:, j]).statistic
                                                for j in range(n_test)]))


def test_comparisons_are_paired_and_holm_corrected():
    truth = RNG.normal(size=(10, 2, 12, 30))
    scores = {"loo_corrected": truth, "good": truth + RNG.normal(size=truth.shape),
              "same": truth + RNG.normal(size=truth.shape), "random": RNG.normal(size=truth.shape)}
    posteriors = {m: _posterior(m, v) for m, v in scores.items()}
    significance = pvalue_tables(posteriors).table
    evaluation = evaluate_methods(posteriors, significance, {}, "loo_corrected")
    draws = evaluation.resampled["loo_corr_mean"]
    rows = with_holm(compare(evaluation.table["loo_corr_mean"].to_dict(), draws, "loo_corr_mean",
                             [("good", "random"), ("good", "same"), ("good", "good")]))
    assert rows.loc[0, "difference"] == pytest.approx(evaluation.table.loc["good", "loo_corr_mean"]
                                                      - evaluation.table.loc["random", "loo_corr_mean"])
    low, high = np.percentile(draws["good"] - draws["random"], [2.5, 97.5])
    assert (rows.loc[0, "difference_cond_lo"], rows.loc[0, "difference_cond_hi"]) == pytest.approx((low, high))
    assert rows.loc[0, "separated"] and not rows.loc[2, "separated"] and rows.loc[2, "p"] == 1.0
    assert np.allclose(rows["p_holm"], holm(rows["p"].to_numpy()))


def test_the_ceiling_is_the_split_half_reliability_of_the_truth():
    seeds, n_train, n_test, noise = 10, 40, 200, 2.0
    signal = RNG.normal(size=(n_train, n_test))
    truth = _posterior("loo_corrected", signal + noise * RNG.normal(size=(seeds, 1, n_train, n_test)))
    reliability = loo_reliability(truth, pearson_per_column)
    assert reliability == pytest.approx(1 / (1 + noise**2 / seeds), abs=0.03)  # the mean of 10 noisy seeds
    per_seed = truth.values.mean(axis=1)
    direct = []
    for first in (c for c in combinations(range(seeds), 5) if 0 in c):
        second = [s for s in range(seeds) if s not in first]
        r = np.mean(pearson_per_column(per_seed[list(first)].mean(axis=0), per_seed[second].mean(axis=0)))
        direct.append(spearman_brown(r))
    assert reliability == pytest.approx(np.mean(direct), abs=0.01)  # 64 of the 126 splits drawn
    classes = ItemClasses(np.arange(n_train) % 2, np.arange(n_test) % 2)
    assert 0 < loo_reliability(truth, spearman_per_column, classes) < 1


def test_variance_components_are_the_one_way_anova_and_read_zero_on_noise():
    values = RNG.normal(size=(10, 5, 3, 4)) + RNG.normal(size=(10, 1, 3, 4))  # seed effect var 1, within var 1
    seed, run = variance_components(values)
    msb = sum(5 * values[:, :, i, j].mean(axis=1).var(ddof=1) for i in range(3) for j in range(4))
    msw = sum(values[:, :, i, j].var(axis=1, ddof=1).mean() for i in range(3) for j in range(4))
    assert (seed, run) == pytest.approx(((msb - msw) / 5, msw))
    noise = decompose(_posterior("random", RNG.normal(size=(10, 5, 30, 40))))
    assert noise["between_seed_fraction"] == pytest.approx(0.9 / 5 / (0.9 / 5 + 0.8), abs=0.02)  # the paper's floor
    assert noise["seed_component_share"] < 0.02  # the random-effects share has none


def test_the_advice_counts_sign_agreement_of_passing_and_failing_pairs_directly():
    signal = RNG.normal(size=(12, 9))
    truth = signal + 0.5 * RNG.normal(size=(10, 1, 12, 9))
    method = signal + RNG.normal(size=(10, 1, 12, 9)) * RNG.uniform(0.1, 3, size=(1, 1, 12, 9))
    posteriors = {"loo_corrected": _posterior("loo_corrected", truth), "gd": _posterior("gd", method)}
    classes = ItemClasses(np.arange(12) % 3, np.arange(9) % 3)
    table = advice_table(posteriors, {"gd": 1}, {}, "loo_corrected", classes, draw(10, 9))
    row = table[table["test"] == "z (paper)"].iloc[0]
    passing = z_pvalues(method[:, 0]) < 0.05
    agree = np.sign(method.mean(axis=(0, 1))) == np.sign(truth.mean(axis=(0, 1)))
    assert row["passing_pairs"] == passing.sum() > 5 and (~passing).sum() > 5
    assert row["sign_agreement_passing"] == pytest.approx(agree[passing].mean())
    assert row["sign_agreement_failing"] == pytest.approx(agree[~passing].mean())


def test_each_tests_threshold_on_the_ratio_is_its_p_below_five_percent():
    samples = RNG.normal(0.4, 1.0, size=(5, 300, 7))
    samples[:, 0, 0] = 0.0
    samples[:, 1, 0] = 1.0  # zero spread, non-zero mean: passes every test but the sign test's at 5 seeds
    for test in TESTS:
        assert np.array_equal(test.passing(samples), test.pvalues(samples) < 0.05), test.key


def test_fewer_seeds_are_every_test_recomputed_on_subsets_of_the_seeds():
    truth = RNG.normal(size=(10, 2, 12, 9))
    posteriors = {"loo_corrected": _posterior("loo_corrected", truth),
                  "gd": _posterior("gd", truth + RNG.normal(size=truth.shape))}
    classes = ItemClasses(np.arange(12) % 3, np.arange(9) % 3)
    evaluation = evaluate_methods(posteriors, pvalue_tables(posteriors).table, {}, "loo_corrected", classes=classes)
    table, holds = seed_count_table(posteriors, evaluation.table, {}, "loo_corrected", classes, None, draw(10, 9))
    assert sorted(table["S"].unique()) == [3, 5, 7, 10]
    assert len(seed_subsets(10, 3)) == 20 and len(set(seed_subsets(10, 3))) == 20 and seed_subsets(4, 3) == [
        (0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)]
    row = table[(table["S"] == 5) & (table["method"] == "gd") & (table["K"] == 2)].iloc[0]
    seeds = [int(s) for s in row["seeds"].split()]
    samples = posteriors["gd"].values[seeds].mean(axis=1)
    for test in TESTS:
        assert row[f"fraction_p_below_0.05_{test.key}"] == pytest.approx((test.pvalues(samples) < 0.05).mean())
    full = table[(table["S"] == 10) & (table["method"] == "gd") & (table["K"] == 2)].iloc[0]
    assert full["loo_corr_within_class_mean"] == pytest.approx(evaluation.table.loc["gd", "loo_corr_within_class_mean"])
    assert set(holds["value"]) == {"fraction_p_below_0.05_z", "loo_corr_within_class_mean"}


def test_the_shuffled_items_null_keeps_each_seeds_scores_and_breaks_only_the_pairing():
    values = RNG.normal(size=(4, 1, 6, 3))
    classes = ItemClasses(np.array([0, 0, 0, 1, 1, 1]), np.array([0, 1, 0]))
    samples = values[:, 0]
    permuted = shuffled(samples, np.random.default_rng(0), classes)
    for s in range(4):  # each seed: the same rows, reordered within each class
        assert sorted(map(tuple, permuted[s])) == sorted(map(tuple, samples[s]))
        assert {tuple(r) for r in permuted[s, :3]} == {tuple(r) for r in samples[s, :3]}
    item_signal = np.broadcast_to(RNG.normal(0, 3, size=(1, 1, 6, 3)), (10, 1, 6, 3)) + 0.1 * RNG.normal(size=(10, 1, 6, 3))
    table = null_table({"gd": _posterior("gd", item_signal)}, {"gd": 1})
    z = table[table["test"] == "z (paper)"].iloc[0]
    assert z["fraction_observed"] > 0.8 and z["fraction_shuffled_items"] < 0.2  # item-level signal: gone when shuffled


def test_replicates_give_each_value_over_the_draws_of_the_training_images():
    table = pd.DataFrame({"depth": [2, 2, 2, 3, 3], "subset_seed": [0, 1, 2, 0, 1], "method": ["gd"] * 5,
                          "lds_mean": [0.5, 0.6, 0.7, 0.2, 0.4]})
    rows = replicate_table(table, ("depth",)).set_index("depth")
    x = np.array([0.5, 0.6, 0.7])
    low, high = stats.t.interval(0.95, 2, loc=x.mean(), scale=x.std(ddof=1) / np.sqrt(3))
    assert rows.loc[2, "draws"] == 3 and rows.loc[2, "lds_mean"] == pytest.approx(0.6)
    assert (rows.loc[2, "lds_mean_lo"], rows.loc[2, "lds_mean_hi"]) == pytest.approx((low, high))
    assert rows.loc[3, "lds_mean_sd"] == pytest.approx(np.std([0.2, 0.4], ddof=1))


def test_every_tests_fraction_computed_at_once_is_each_tests_own():
    rng = np.random.default_rng(3)
    samples = rng.normal(0.3, 1.0, size=(7, 30, 50))
    samples[:, :3] = 0.0  # pairs with no spread at all (a control's constant scores)
    samples[:, 3:5] = 1.0
    once = fractions_passing(samples)
    assert once == {t.key: float(t.passing(samples).mean()) for t in TESTS}
