"""TracInCP with the training's own learning rates: one score per seed (the sum of its checkpoints' η_e·GD_e),
the same as `tracin` under the CNN's constant rate, weighted by the ViT's linear decay, and analysed with the
seeds as its posterior samples."""

import numpy as np
import pytest
import torch

from bayestda.analysis import correlations_of, roles_for
from bayestda.attribution import helpful_signs
from bayestda.experiments.experiment import Experiment
from bayestda.families.base import Recipe, epoch_learning_rate
from bayestda.numerics.many_models import AdamSettings
from bayestda.results.analysis import load_all
from bayestda.scores import files as scores
from bayestda.scores.pipeline import run_scores
from bayestda.training.vit_finetuning import finetune_seed


@pytest.mark.parametrize("steps_per_epoch", [1, 3])
def test_epoch_learning_rate_is_the_mean_rate_the_scheduler_gives_that_epochs_steps(steps_per_epoch):
    epochs = 15
    adam = AdamSettings(decay_steps=steps_per_epoch * epochs)
    optimizer = adam.optimizer([torch.zeros(1, requires_grad=True)])
    scheduler = adam.scheduler(optimizer)
    rates = []
    for _ in range(steps_per_epoch * epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    for epoch in (0, 10, 14):
        used = np.mean(rates[epoch * steps_per_epoch : (epoch + 1) * steps_per_epoch])
        assert epoch_learning_rate(Recipe(linear_decay=True), epoch, epochs, steps_per_epoch) == pytest.approx(used, rel=1e-12)
    assert epoch_learning_rate(Recipe(), 14, epochs, steps_per_epoch) == 1e-3


def test_under_a_constant_rate_tracincp_files_are_tracins(trained_seed, experiment):
    run_scores(experiment, 446, ["tracin", "tracincp"], show_progress=False)
    for epoch in experiment.checkpoint_epochs:
        ours = experiment.scores_path("tracincp", 446, epoch).read_bytes()
        assert ours == experiment.scores_path("tracin", 446, epoch).read_bytes()


def test_the_vit_terms_follow_its_linear_decay(mnist3_subsets):
    vit = Experiment("vittiny", "mnist3", 10)
    finetune_seed(vit, 446)
    run_scores(vit, 446, ["gd", "tracin", "tracincp"], epochs=[10, 14], show_progress=False)
    for epoch in (10, 14):
        gd = scores.load_array(vit, "gd", 446, epoch)[0]
        rate = 1e-3 * (15 - epoch) / 15  # one step per epoch (30 items, batch 32): lr·(T − s)/T at step s = epoch
        np.testing.assert_allclose(scores.load_array(vit, "tracincp", 446, epoch)[0], rate * gd, rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(scores.load_array(vit, "tracin", 446, epoch)[0], 1e-3 * gd, rtol=1e-5, atol=1e-12)


def test_the_analysis_takes_one_sample_per_seed_and_says_so(small_run, tmp_path):
    experiment, seeds, _ = small_run
    for seed in seeds:
        run_scores(experiment, seed, ["tracincp"], show_progress=False)
    posteriors = load_all(experiment, ["tracin", "tracincp"], seeds)
    assert posteriors["tracincp"].values.shape[1] == 1
    np.testing.assert_allclose(posteriors["tracincp"].values[:, 0], posteriors["tracin"].values.sum(axis=1), rtol=1e-12)
    result = correlations_of(posteriors, tmp_path, "small")
    assert list(result.mean_p_values["tracincp"].dropna().index) == [1]
    noise = result.noise.set_index("method")
    assert np.isnan(noise.loc["tracincp", "within_run_fraction"]) and noise.loc["tracin", "within_run_fraction"] > 0
    assert "tracincp: one score per seed" in result.summary and "posterior samples are the seeds" in result.summary


def test_its_loo_correlation_uses_the_same_ground_truth_as_every_other_method(small_run, tmp_path):
    """K = 1 for TracInCP must not shrink the truth to the last checkpoint: under a constant rate its posterior mean
    is proportional to TracIn's, so the two posterior means rank the train items alike against one truth."""
    experiment, seeds, _ = small_run
    for seed in seeds:
        run_scores(experiment, seed, ["tracincp"], show_progress=False)
    posteriors = load_all(experiment, ["ats", "tracin", "tracincp"], seeds)
    table = correlations_of(posteriors, None, "small", roles=roles_for(posteriors, helpful_signs(), truth="ats")).methods
    assert table.loc["tracincp", "loo_corr_mean"] == pytest.approx(table.loc["tracin", "loo_corr_mean"], abs=1e-6)
