"""What a reviewer asks of the methods table: the label alone as a control, metrics within a class (what a method
knows beyond the label), the posterior test split by class, and intervals; each against a direct computation."""

import numpy as np
import pytest
import torch
from scipy.stats import bootstrap, spearmanr

from bayestda.analysis import ItemClasses, PosteriorScores, SubsetLosses, posterior_test
from bayestda.analysis.metrics import bootstrap_interval, bounds, loo_correlation, pearson_per_column, spearman_per_column
from bayestda.analysis.pvalues import pvalue_tables
from bayestda.analysis.statistics import benjamini_hochberg, z_pvalues
from bayestda.training.lds import draw_subsets

RNG = np.random.default_rng(7)
TRAIN_LABELS = np.repeat([0, 1, 2], 8)
TEST_LABELS = np.array([0, 1, 2, 0, 1, 2, 0])
CLASSES = ItemClasses(TRAIN_LABELS, TEST_LABELS)


def _posterior(name, values):
    return PosteriorScores.from_array(name, values)


def test_within_class_loo_is_spearman_over_the_test_items_own_class_only():
    truth = RNG.normal(size=(4, 2, 24, 7))
    scores = RNG.normal(size=(4, 2, 24, 7))
    single, mean = loo_correlation(_posterior("gd", scores), _posterior("loo_corrected", truth), 2, classes=CLASSES)
    target = truth.mean(axis=(0, 1))
    direct_mean = np.mean([spearmanr(scores.mean(axis=(0, 1))[TRAIN_LABELS == TEST_LABELS[j], j],
                                     target[TRAIN_LABELS == TEST_LABELS[j], j]).statistic for j in range(7)])
    direct_single = np.mean([spearmanr(scores[s, c][TRAIN_LABELS == TEST_LABELS[j], j],
                                       target[TRAIN_LABELS == TEST_LABELS[j], j]).statistic
                             for s in range(4) for c in range(2) for j in range(7)])
    assert mean == pytest.approx(direct_mean, abs=1e-12) and single == pytest.approx(direct_single, abs=1e-12)


def test_the_label_alone_knows_nothing_within_a_class():
    """same_class is constant over a class's train items and over stratified halves: 0 there, never NaN."""
    same = CLASSES.same().astype(float)
    truth = RNG.normal(size=(3, 1, 24, 7))
    control = _posterior("same_class", np.broadcast_to(same, (3, 1, 24, 7)))
    assert loo_correlation(control, _posterior("loo_corrected", truth), 1, classes=CLASSES) == (0.0, 0.0)
    assert loo_correlation(control, _posterior("loo_corrected", truth + 3 * same), 1)[1] > 0.5  # across classes
    subsets = draw_subsets(24, 40, labels=torch.as_tensor(TRAIN_LABELS)).numpy()
    losses = RNG.normal(size=(2, 40, 7))
    result = posterior_test({"same_class": np.broadcast_to(same, (3, 1, 24, 7)), "gd": truth},
                            within_class_losses=SubsetLosses(subsets, losses, np.arange(24), np.arange(7)))
    assert result.methods.loc["same_class", "lds_within_class_mean"] == 0.0


def test_a_constant_method_reads_zero_and_a_constant_target_is_left_out():
    varying = np.arange(10.0)[:, None]
    constant = np.full((10, 1), 2.0)
    for per_column in (spearman_per_column, pearson_per_column):
        assert per_column(constant, varying)[0] == 0.0
        assert np.isnan(per_column(varying, constant)[0])


def test_the_significant_pairs_split_into_same_class_and_cross_class_as_counted_directly():
    values = RNG.normal(size=(10, 3, 24, 7)) + 0.8 * CLASSES.same()
    table = pvalue_tables({"gd": _posterior("gd", values)}, CLASSES).table
    row = table[(table["K"] == 3) & (table["test"] == "z (paper)")].iloc[0]
    p = z_pvalues(values.mean(axis=1))
    same = CLASSES.same()
    assert row["fraction_p_below_0.05_same_class"] == pytest.approx((p[same] < 0.05).mean())
    assert row["fraction_p_below_0.05_cross_class"] == pytest.approx((p[~same] < 0.05).mean())
    bh = benjamini_hochberg(p)
    assert row["significant_after_BH_5%_same_class"] == bh[same].sum()
    assert row["significant_after_BH_5%_same_class"] + row["significant_after_BH_5%_cross_class"] == \
        row["significant_after_BH_5%"]


def test_the_interval_over_test_items_is_scipys_percentile_bootstrap():
    per_item = RNG.normal(0.3, 0.2, size=400)
    ours = bootstrap_interval(per_item, resamples=20_000)
    theirs = bootstrap((per_item,), np.mean, n_resamples=20_000, method="percentile", random_state=1).confidence_interval
    assert ours[0] == pytest.approx(theirs.low, abs=3e-3) and ours[1] == pytest.approx(theirs.high, abs=3e-3)
    assert ours[0] < per_item.mean() < ours[1]


def test_the_single_sample_interval_resamples_whole_seeds_too():
    """Seeds that differ (a seed effect) widen the interval beyond what resampling test items alone gives."""
    seed_effect = np.linspace(-0.3, 0.3, 10)[:, None, None]
    per_item = 0.4 + seed_effect + RNG.normal(0, 0.05, size=(10, 5, 300))
    low, high = bootstrap_interval(per_item)
    items_only = bootstrap_interval(per_item.mean(axis=(0, 1)))
    assert high - low > 5 * (items_only[1] - items_only[0])
    # direct: a seeds-and-items resampling loop
    rng = np.random.default_rng(3)
    means = [per_item[rng.integers(0, 10, 10)][:, :, rng.integers(0, 300, 300)].mean() for _ in range(2000)]
    assert low == pytest.approx(np.percentile(means, 2.5), abs=0.02)
    assert high == pytest.approx(np.percentile(means, 97.5), abs=0.02)


def test_every_metric_in_the_table_carries_its_interval():
    truth = RNG.normal(size=(3, 2, 24, 7))
    subsets = draw_subsets(24, 30).numpy()
    losses = RNG.normal(size=(2, 30, 7))
    result = posterior_test({"gd": RNG.normal(size=(3, 2, 24, 7)), "loo_corrected": truth}, truth="loo_corrected",
                            classes=CLASSES, subset_losses=SubsetLosses(subsets, losses, np.arange(24), np.arange(7)))
    table = result.methods
    for metric in ("loo_corr", "loo_pearson", "loo_corr_within_class", "lds"):
        for kind in ("single", "mean"):
            column = f"{metric}_{kind}"
            low, high = bounds(column)  # one training subset: conditional on it, and named so
            assert low.endswith("_cond_lo") and high.endswith("_cond_hi")
            assert (table[low] <= table[column] + 1e-12).all()
            assert (table[column] <= table[high] + 1e-12).all()
    assert table.loc["gd", "lds_target"] == "given"
    assert "same / cross class" in result.summary and "- LDS (posterior mean): highest: " in result.summary
    assert "- LOO correlation (Spearman" not in result.summary  # one method besides the truth and no control: no ranking


def test_classes_of_other_items_are_refused_in_one_line():
    with pytest.raises(Exception, match="item classes give 24 train and 7 test labels; the scores have 24 train and 3"):
        posterior_test({"gd": RNG.normal(size=(3, 1, 24, 3))}, classes=CLASSES)
