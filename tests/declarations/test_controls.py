"""Controls beside every method: `random` is seeded standard-normal noise, a fresh draw per posterior sample;
`same_class` is the label indicator; both go through the pipeline and the analysis like any method."""

import numpy as np
import pandas as pd
import pytest
import torch

from bayestda.attribution import get
from bayestda.results.analysis import run_correlations, run_pvalues
from bayestda.scores.files import load_array
from bayestda.scores.pipeline import make_context, run_scores


def test_random_is_reproducible_standard_normal_noise_drawn_afresh_per_seed_and_checkpoint(trained_seed, experiment):
    ctx14, ctx13 = make_context(experiment, 446, 14), make_context(experiment, 446, 13)
    a, b, c = get("random").score(ctx14), get("random").score(make_context(experiment, 446, 14)), get("random").score(ctx13)
    assert a.shape == (30, 900) and torch.equal(a, b) and not torch.equal(a, c)
    assert abs(float(a.mean())) < 0.03 and abs(float(a.std()) - 1) < 0.03  # 27,000 draws
    assert abs(np.corrcoef(a.flatten(), c.flatten())[0, 1]) < 0.03


def test_same_class_is_one_exactly_where_the_labels_match(trained_seed, experiment):
    ctx = make_context(experiment, 446, 14)
    scores = get("same_class").score(ctx)
    direct = np.array([[float(i == j) for j in ctx.test.y.tolist()] for i in ctx.train.y.tolist()])
    np.testing.assert_array_equal(scores.numpy(), direct)


def test_both_controls_go_through_the_pipeline_and_the_analysis(small_run):
    experiment, seeds, methods = small_run
    for seed in seeds:
        run_scores(experiment, seed, ["random", "same_class", "ats"], show_progress=False)
    values, train_idx, test_idx = load_array(experiment, "same_class", seeds[0], 14)
    significance = run_pvalues(experiment, ["ats", "random", "same_class"], seeds)
    run_correlations(experiment, ["ats", "random", "same_class"], seeds, lds_subsets=0)
    table = pd.read_csv(experiment.analysis_dir(["ats", "random", "same_class"], seeds) / "methods.csv", index_col="method")
    same_fraction = float(values.mean())  # its significant pairs are exactly the same-class pairs (σ = 0, μ = 1)
    z = significance[(significance["method"] == "same_class") & (significance["test"] == "z (paper)")
                     & (significance["K"] == 5)]
    assert z["fraction_p_below_0.05"].iloc[0] == pytest.approx(same_fraction)
    assert table.loc["random", "helpful_sign"] == 1 and table.loc["same_class", "helpful_sign"] == 1
    assert "loo_corr_mean" not in table.columns  # no loo_corrected among these methods: no truth, no LOO columns
