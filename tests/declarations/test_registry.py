"""A new TDA method is declared in one place: this file registers Grad-Dot on a random projection of the
gradients (`gd_rp`) and runs it through the per-seed pipeline, the launcher's plan and runs, and the analysis,
with no other file touched. The launcher's jobs load this file as a plugin (BAYESTDA_PLUGINS)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bayestda.attribution import CheckpointContext, Method, all_methods, default_methods, describe, helpful_signs, register
from bayestda.core.errors import BayesTDAError
from bayestda.experiments.commands import score_command
from bayestda.launch.local import make_slots, run_local
from bayestda.launch.stages import Request, plan
from bayestda.results.analysis import run_correlations, run_pvalues
from bayestda.scores.files import load_array
from bayestda.scores.pipeline import make_context, run_scores

PROJECTION_DIM = 64


def projection(ctx: CheckpointContext) -> torch.Tensor:
    """[k, P] Gaussian projection, the same for every checkpoint (fixed generator), scaled so that E[RᵀR] = I."""
    generator = torch.Generator().manual_seed(0)
    return torch.randn(PROJECTION_DIM, ctx.view.numel, generator=generator).to(ctx.dtype) / PROJECTION_DIM**0.5


def projected_grad_dot(ctx: CheckpointContext) -> torch.Tensor:
    """[n_train, n_test]: (R g_train) · (R g_test), from the shared per-sample gradients (never formed densely)."""
    r = projection(ctx).to(ctx.device)
    return ctx.train_gradients().products(r).T @ ctx.test_gradients().products(r)


GD_RP = register(Method("gd_rp", projected_grad_dot, +1, "Grad-Dot on a 64-dimensional random projection", default=False))


def test_the_registered_method_is_listed_with_its_sign_but_not_among_the_defaults():
    assert "gd_rp" in all_methods() and "gd_rp" not in default_methods()
    assert helpful_signs()["gd_rp"] == 1
    assert default_methods() == ["loo", "loo_corrected", "ats", "if", "if_converged", "gd", "gc", "tracin"]
    assert "| `gd_rp` | Grad-Dot on a 64-dimensional random projection | positive | gradients | " \
           "`run_<f>_all.py --methods gd_rp` | on request |" in describe()


def test_it_runs_through_the_per_seed_pipeline_and_equals_its_definition(small_run):
    experiment, seeds, _ = small_run
    for seed in seeds:
        run_scores(experiment, seed, ["gd_rp"], show_progress=False)
    scores, train_idx, test_idx = load_array(experiment, "gd_rp", seeds[0], 14)
    ctx = make_context(experiment, seeds[0], 14, dtype=torch.float64)
    dense_train, dense_test = ctx.train_grads(), ctx.test_grads()
    r = projection(ctx)
    expected = (dense_train @ r.T) @ (dense_test @ r.T).T
    scale = np.abs(expected.numpy()).max()
    assert np.abs(scores - expected.numpy()).max() < 1e-5 * scale
    gd = load_array(experiment, "gd", seeds[0], 14)[0]
    assert np.corrcoef(scores.ravel(), gd.ravel())[0, 1] > 0.8  # a projection approximates Grad-Dot


def test_the_error_for_missing_scores_names_the_generic_script_with_the_method(small_run):
    experiment, _, _ = small_run
    assert score_command(experiment, "gd_rp", 296).endswith("--seed_id 3 --methods gd_rp")
    with pytest.raises(BayesTDAError, match="run: python tda_cnn_scripts/run_cnn_all.py .* --methods gd_rp"):
        load_array(experiment, "gd_rp", 296, 14)


@pytest.mark.slow
def test_the_launcher_plans_and_runs_it_through_the_generic_script_with_this_file_as_a_plugin(
        small_run, tmp_path, monkeypatch):
    experiment, seeds, _ = small_run
    jobs = {j.name: j for j in plan(Request((experiment,), ("gd_rp", "gd"), (0, 1), lds_subsets=0))}
    job = jobs[f"{experiment.name}/446/gd_rp"]
    assert job.stage == "scores" and job.needs == (f"{experiment.name}/446/train",)
    assert job.commands == (("tda_cnn_scripts/run_cnn_all.py", "--arch", "cnn", "--task", "mnist", "--num_per_class",
                             "10", "--seed_id", "0", "--methods", "gd_rp"),)
    assert f"{experiment.name}/446/gd_and_gc" in jobs and jobs[f"{experiment.name}/analysis"].stage == "analysis"
    for seed in seeds[:2]:  # the scores of the pipeline test are removed: the launcher's jobs write them again
        for epoch in experiment.checkpoint_epochs:
            experiment.scores_path("gd_rp", seed, epoch).unlink(missing_ok=True)
    monkeypatch.setenv("BAYESTDA_PLUGINS", str(Path(__file__)))
    only_gd_rp = [j for j in jobs.values() if j.name.endswith("/gd_rp")]
    report = run_local(only_gd_rp, make_slots(None, 1), show_progress=False)
    assert report.failed == {} and sorted(report.succeeded) == sorted(j.name for j in only_gd_rp)
    assert all(j.is_done() for j in only_gd_rp)


def test_the_analysis_takes_it_like_any_other_method(small_run):
    experiment, seeds, _ = small_run
    for seed in seeds:
        run_scores(experiment, seed, ["gd_rp"], show_progress=False)
    significance = run_pvalues(experiment, ["gd", "gd_rp"], seeds)
    assert set(significance["method"]) == {"gd", "gd_rp"}
    summary = run_correlations(experiment, ["gd", "gd_rp"], seeds)
    assert "positive = helpful for gd and gd_rp" in summary
    spearman = pd.read_csv(experiment.analysis_dir(["gd", "gd_rp"], seeds) / "spearman_corr_mu.csv", index_col=0)
    assert spearman.loc["gd", "gd_rp"] > 0.5  # k = 64 of 225,034 dimensions: a rough, but clear, agreement
    assert (experiment.analysis_dir(["gd", "gd_rp"], seeds) / "pvalues_gd_rp_across_5_ckpts.csv").exists()
