"""LDS (Park et al. 2023): the subset models are the paper's recipe on half the data, and the score is Spearman over
subsets between a method's summed scores and the retrained models' test losses, from one sample and from the mean."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr
from torch.utils.data import DataLoader, TensorDataset

from bayestda import provenance
from bayestda.analysis import PosteriorScores, posterior_test
from bayestda.analysis.metrics import lds as lds_score
from bayestda.analysis.truths import from_scratch_scores
from bayestda.core.errors import BayesTDAError
from bayestda.data.subsets import load_experiment_data
from bayestda.experiments.experiment import Experiment
from bayestda.results.analysis import experiment_classes, load_all, run_correlations
from bayestda.training import lds
from bayestda.training.checkpoints import build_model, load_checkpoint


def test_subsets_are_halves_drawn_once_for_every_seed_and_method():
    masks = lds.draw_subsets(30, 100)
    assert masks.shape == (100, 30) and (masks.sum(1) == 15).all()
    assert len({tuple(row.tolist()) for row in masks}) == 100
    assert torch.equal(lds.draw_subsets(30, 200)[:100], masks)  # a larger M keeps the first M draws


def test_a_subset_of_every_item_retrains_the_seeds_own_run_bitwise(trained_seed, experiment):
    params = lds.train_on_subset(experiment, 446, torch.arange(30))
    _, final = load_checkpoint(experiment, 446, experiment.checkpoint_epochs[-1])
    assert all(torch.equal(params[n], final[n]) for n in final)


def _papers_loop(experiment, seed, x, y):
    """The paper's script body (manual_seed, the CNN, DataLoader(shuffle=True), torch Adam) on these items alone."""
    torch.manual_seed(seed)
    model = build_model(experiment)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=5e-3)
    for _ in range(experiment.epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
    return model


def test_a_subset_model_is_the_papers_training_loop_on_those_items_alone(trained_seed, experiment):
    """Independent: the paper's script body (manual_seed, the CNN, DataLoader(shuffle=True), torch Adam) on 15 items."""
    positions = lds.draw_subsets(30, 3)[2].nonzero().squeeze(1)
    train, _ = load_experiment_data("mnist3", 10)
    model = _papers_loop(experiment, 446, train.x[positions], train.y[positions])
    ours = lds.train_on_subset(experiment, 446, positions)
    for name, p in model.named_parameters():
        torch.testing.assert_close(ours[name], p.detach(), rtol=0, atol=1e-6)


def _targets(subsets, losses, n_test):
    return lds.SubsetLosses(subsets, losses, np.arange(subsets.shape[1]), np.arange(n_test))


def test_scores_that_are_the_exact_linear_datamodel_score_one():
    """Test losses exactly linear in the subset (loss = c - sum of tau over the subset): LDS of tau is 1."""
    rng = np.random.default_rng(0)
    tau = rng.normal(size=(20, 6))
    subsets = lds.draw_subsets(20, 50).numpy()
    losses = (3.0 - subsets.astype(float) @ tau)[None].repeat(2, 0)
    single, mean = lds_score(PosteriorScores.from_array("loo", tau[None, None].repeat(2, 0)), _targets(subsets, losses, 6), 1)
    assert single == pytest.approx(1.0) and mean == pytest.approx(1.0)
    single, _ = lds_score(PosteriorScores.from_array("ats", -tau[None, None].repeat(2, 0)), _targets(subsets, losses, 6), 1, sign=-1)
    assert single == pytest.approx(1.0)  # the helpful sign is applied


def test_lds_equals_scipys_spearman_over_subsets_from_samples_and_from_the_mean():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(3, 2, 12, 4))
    subsets = lds.draw_subsets(12, 30).numpy()
    losses = rng.normal(size=(3, 30, 4))
    single, mean = lds_score(PosteriorScores.from_array("gd", values), _targets(subsets, losses, 4), 2)
    actual = -losses.mean(0)
    per_sample = [[spearmanr(subsets @ values[s, c][:, t], actual[:, t]).statistic for t in range(4)]
                  for s in range(3) for c in range(2)]
    assert single == pytest.approx(np.mean(per_sample), abs=1e-12)
    direct_mean = np.mean([spearmanr(subsets @ values.mean((0, 1))[:, t], actual[:, t]).statistic for t in range(4)])
    assert mean == pytest.approx(direct_mean, abs=1e-12)
    result = posterior_test({"gd": values}, subset_losses=_targets(subsets, losses, 4))
    assert result.methods.loc["gd", "lds_single"] == pytest.approx(single)


def test_the_retraining_stage_feeds_the_methods_table_and_is_skipped_when_done(small_run):
    """The small real run (full MNIST, 100 train items, 3 seeds): 4 subsets per seed retrained (the paired target,
    0.2's files), then methods.csv."""
    experiment, seeds, methods = small_run
    design = lds.LdsDesign(4, "paired")
    lds.retrain(experiment, [design], seeds, jobs=1)
    paths = [design.path(experiment, s) for s in seeds]
    assert paths[0] == experiment.model_dir(seeds[0]) / "lds_4_subsets.pt"  # 0.2's path: its files stay current
    assert all(provenance.is_current(p) for p in paths)
    stamps = [p.stat().st_mtime_ns for p in paths]
    lds.retrain(experiment, [design], seeds, jobs=1)
    assert [p.stat().st_mtime_ns for p in paths] == stamps
    run_correlations(experiment, methods, seeds, lds_subsets=4)
    table = pd.read_csv(experiment.analysis_dir(methods, seeds) / "methods.csv").set_index("method")
    targets = lds.load_subset_losses(experiment, design, seeds)
    assert targets.losses.shape == (3, 4, 10) and (targets.subsets.sum(1) == 50).all()
    gd = load_all(experiment, ["gd"], seeds)["gd"]
    assert table.loc["gd", "lds_single"] == pytest.approx(lds_score(gd, targets, 5)[0], abs=1e-12)
    assert table.loc["gd", "lds_target"].startswith("paired")
    assert (table["seconds_per_checkpoint"] > 0).all()
    assert "LDS (linear datamodeling score)" in (experiment.analysis_dir(methods, seeds) / "summary.md").read_text()


def test_the_independent_target_retrains_under_seeds_disjoint_from_the_posterior(small_run):
    """R = 2 models per subset under drawn seeds, random and class-stratified halves: LDS and within-class LDS."""
    experiment, seeds, methods = small_run
    designs = [lds.LdsDesign(4, "independent", halves, models=2) for halves in lds.HALVES]
    lds.retrain(experiment, designs, jobs=1)
    target_seeds = designs[0].seeds()
    assert not set(target_seeds) & set(lds.load_seeds()) and target_seeds == lds.independent_seeds(5)[:2]
    assert all(provenance.is_current(experiment.lds_target_dir(s) / "lds_4_stratified_subsets.pt") for s in target_seeds)
    run_correlations(experiment, methods, seeds, lds_subsets=4, lds_target="independent", lds_models=2)
    table = pd.read_csv(experiment.analysis_dir(methods, seeds) / "methods.csv").set_index("method")
    stratified = lds.load_subset_losses(experiment, designs[1], seeds)
    labels = experiment_classes(experiment).train
    assert all((stratified.subsets[:, labels == c].sum(1) == (labels == c).sum() // 2).all() for c in set(labels))
    gd = load_all(experiment, ["gd"], seeds)["gd"]
    assert table.loc["gd", "lds_within_class_mean"] == pytest.approx(lds_score(gd, stratified, 5)[1], abs=1e-12)
    assert table.loc["gd", "lds_target"].startswith("independent (2 models per subset")
    record = provenance.read(experiment.analysis_dir(methods, seeds) / "methods.csv")
    assert record["what"]["lds_target"] == "independent" and record["what"]["lds_halves"] == ["random", "stratified"]


def test_stratified_halves_keep_half_of_every_class_and_the_same_draws_for_every_m():
    labels = torch.tensor([0, 1, 2] * 10)
    masks = lds.draw_subsets(30, 50, labels)
    assert all((masks[:, labels == c].sum(1) == 5).all() for c in range(3))
    assert torch.equal(lds.draw_subsets(30, 80, labels)[:50], masks)


def test_lds_without_its_retrained_models_names_the_command(small_run):
    experiment, seeds, methods = small_run
    with pytest.raises(BayesTDAError, match=r"run: python run_lds_retraining.py --experiment cnn_mnist_10pc "
                                            r"--lds-subsets 7 --halves random$"):
        run_correlations(experiment, methods, seeds, lds_subsets=7)


@pytest.mark.parametrize("m", [0, 1, 10_001])
def test_a_number_of_subsets_out_of_range_is_one_line(m):
    with pytest.raises(BayesTDAError, match=rf"--lds-subsets {m}: must be an integer from 2 to 10000"):
        lds.check_subsets(m)


def test_a_family_that_trains_its_own_way_is_refused_in_one_line():
    with pytest.raises(BayesTDAError, match="LDS retraining repeats the paper's CNN training loop"):
        lds.retrain_seed(Experiment.parse("vitmnist_mnist3_10pc"), 446, lds.LdsDesign(4))


def test_the_from_scratch_loo_is_each_seeds_run_without_each_item_with_the_full_run_first(trained_seed, experiment):
    """The file's row 0 is the seed's own run (its last checkpoint's test losses, to the float rounding of the
    channels-last evaluator that scores every model); row i + 1 is the paper's training loop (independent:
    DataLoader, torch Adam) without train item i."""
    design = lds.LdsDesign.leave_one_out()
    lds.retrain_seed(experiment, 446, design, show_progress=False)
    path = design.path(experiment, 446)
    assert path == experiment.model_dir(446) / "loo_from_scratch.pt" and provenance.is_current(path)
    blob = torch.load(path)
    masks = blob["subsets"]
    assert masks.shape == (31, 30) and masks[0].all() and (~masks[1:]).nonzero()[:, 1].tolist() == list(range(30))
    train, test = load_experiment_data("mnist3", 10)
    net, _ = load_checkpoint(experiment, 446, experiment.checkpoint_epochs[-1])  # in eval mode, its weights loaded
    with torch.no_grad():
        full = torch.nn.functional.cross_entropy(net(test.x), test.y, reduction="none")
    torch.testing.assert_close(blob["test_losses"][0], full.float(), rtol=2e-6, atol=1e-6)
    keep = torch.arange(30) != 7
    model = _papers_loop(experiment, 446, train.x[keep], train.y[keep])
    model.eval()
    with torch.no_grad():
        without = torch.nn.functional.cross_entropy(model(test.x), test.y, reduction="none")
    torch.testing.assert_close(blob["test_losses"][8], without.float(), rtol=0, atol=1e-4)
    losses = lds.load_subset_losses(experiment, design, [446, 446])
    truth = from_scratch_scores(losses, [446, 446])
    assert truth.values.shape == (2, 1, 30, len(test.y)) and truth.method == "loo_scratch"
    assert np.allclose(truth.values[0, 0, 7], (blob["test_losses"][8] - blob["test_losses"][0]).double().numpy())


def test_the_from_scratch_loo_retrains_the_posterior_seeds_only():
    with pytest.raises(BayesTDAError, match="its target is paired"):
        lds.LdsDesign(0, "independent", lds.LEAVE_ONE_OUT)
    assert lds.LdsDesign.leave_one_out().command(Experiment("cnn", "mnist3", 10)).endswith("--halves leave_one_out")
