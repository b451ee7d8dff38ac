"""The damping curve: each damped method at its own default λ is the method itself, a huge λ turns every inverse
into a multiple of the identity (the scores become Grad-Dot's ranking), and the curve's table is methods.csv's
metrics at each λ."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr

from bayestda import provenance
from bayestda.attribution.registry import get
from bayestda.results import damping
from bayestda.results.analysis import experiment_classes, load_all
from bayestda.scores.pipeline import make_context, run_scores


@pytest.fixture(scope="module")
def ctx(trained_seed, experiment):
    return make_context(experiment, 446, experiment.checkpoint_epochs[-1])


@pytest.mark.parametrize("method", ["if_converged", "ekfac", pytest.param("arnoldi", marks=pytest.mark.slow)])
def test_a_damped_method_at_its_default_is_the_method(ctx, method):
    """On one context, as the damping curve runs them (arnoldi's eigenpairs computed once for both)."""
    shared = ctx.fork()
    registered = get(method)
    plain = registered.score(shared, registered.inverse_hvp(shared)) if registered.inverse_hvp else registered.score(shared)
    ours = registered.damped(shared, damping.default_damping(method)).double()
    torch.testing.assert_close(ours, plain.double(), rtol=0, atol=1e-6 * plain.abs().max().item())


@pytest.mark.slow
@pytest.mark.parametrize("method", ["if_converged", "ekfac"])
def test_a_huge_damping_ranks_like_grad_dot(ctx, method):
    """(C + λI)⁻¹ → I/λ: −τ·λ is the gradient product, so Spearman with gd over train items is 1 per test item."""
    scores = -get(method).damped(ctx.fork(), 1e6).double()
    gd = ctx.fork().gradient_products().double()  # [n_train, n_test]
    rho = [spearmanr(scores[:, j], gd[:, j]).statistic for j in range(0, 900, 97)]
    assert min(rho) > 0.999


def test_the_curve_is_the_methods_table_at_each_damping(small_run):
    """ekfac at two dampings and its default, on the small real run, ats standing in as the LOO truth."""
    experiment, seeds, methods = small_run
    table = damping.run_damping_curve(experiment, [experiment.checkpoint_epochs[-1]], ("ekfac",), (1e-4, 1.0),
                                      jobs=1, seeds=seeds[:2], truth_method="ats")
    assert sorted(table["damping"].unique()) == [1e-4, 5e-3, 1.0] and table["default"].sum() == 1
    written = pd.read_csv(experiment.results_dir() / "damping.csv")
    assert len(written) == 3 and (experiment.results_dir() / "damping.png").exists()
    seeds = seeds[:2]
    truth = load_all(experiment, ["ats"], seeds)["ats"]
    target = -truth.values.mean(axis=(0, 1))  # ats: negative = helpful
    labels = experiment_classes(experiment)
    same = labels.train[:, None] == labels.test[None, :]
    direct = []
    for seed in seeds:
        blob = torch.load(damping.curve_path(experiment, seed, experiment.checkpoint_epochs[-1]))
        score = -blob["ekfac"][1.0].double().numpy()
        direct += [spearmanr(score[same[:, j], j], target[same[:, j], j]).statistic for j in range(score.shape[1])]
    row = written[(written["method"] == "ekfac") & (written["damping"] == 1.0)].iloc[0]
    assert row["loo_corr_within_class_single"] == pytest.approx(np.nanmean(direct), abs=1e-9)
    assert row["loo_corr_mean_cond_lo"] < row["loo_corr_mean"] < row["loo_corr_mean_cond_hi"]
    text = (experiment.results_dir() / "damping.md").read_text()
    assert "Best λ per metric beside the default" in text and ("Holm over" in text or "the default is best" in text)
    assert provenance.is_current(experiment.results_dir() / "damping.csv")


def test_the_scores_stage_writes_the_curve_from_its_own_context_with_the_same_numbers(trained_seed, experiment):
    """The scores stage hands each checkpoint's context to the curve (after_checkpoint): the curvature it already
    holds is reused, and the file is bitwise the one the damping stage makes from a fresh context."""
    epoch = experiment.checkpoint_epochs[-1]
    curve = {"methods": ("if_converged",), "dampings": (1e-3, 1.0)}
    run_scores(experiment, 446, ["if_converged"], [epoch], overwrite=True, show_progress=False,
               after_checkpoint=lambda ctx, e: damping.score_checkpoint(experiment, 446, e, ctx=ctx, **curve))
    path = damping.curve_path(experiment, 446, epoch)
    from_scores = torch.load(path)
    assert provenance.is_current(path) and sorted(from_scores["if_converged"]) == [1e-3, 5e-3, 1.0]
    path.unlink()
    damping.score_checkpoint(experiment, 446, epoch, **curve)
    fresh = torch.load(path)
    assert all(torch.equal(from_scores["if_converged"][d], fresh["if_converged"][d]) for d in fresh["if_converged"])
    path.unlink()
    provenance.remove(path)
