"""Phantom items: held-out images every method scores as if they were train items, on the same checkpoints, with
the training set's curvature and retrained models; their true effect is exactly 0 (a null with a known answer)."""

import numpy as np
import pytest
import torch
from scipy import stats

from bayestda.analysis import ItemClasses, PosteriorScores
from bayestda.analysis.phantoms import phantom_table
from bayestda.analysis.statistics import TESTS, z_noise_rate
from bayestda.attribution import get
from bayestda.core.errors import BadInput
from bayestda.data.subsets import Subset, load_subset, phantom_items, read_index_list
from bayestda.results.analysis import load_phantom_posteriors
from bayestda.scores.files import load_array, load_phantom_array
from bayestda.scores.pipeline import compute, make_context, run_scores

ROW_METHODS = ["ats", "if", "if_converged", "gd", "gc", "tracin", "trak", "rps", "ekfac", "arnoldi", "same_class"]


@pytest.mark.parametrize("task, n, subset_seed", [("mnist3", 10, 0), ("mnist3", 20, 0), ("cifar10", 10, 0)])
def test_phantom_items_are_never_train_items_and_match_the_class_counts(task, n, subset_seed):
    train_idx = read_index_list(task, "train", n)
    from bayestda.data.subsets import load_pool, select  # noqa: PLC0415 (the shipped labels of the paper's list)

    labels = select(load_pool("mnist" if task == "mnist3" else "cifar10", "train"), train_idx)[1]
    images, phantom_labels, idx = phantom_items(task, tuple(train_idx.tolist()), tuple(labels.tolist()), subset_seed)
    assert len(idx) == len(train_idx) and len(set(idx.tolist())) == len(idx)
    assert not set(idx.tolist()) & set(train_idx.tolist())
    if task == "mnist3":  # from the full MNIST: in none of the paper's train lists either
        for size in (10, 20, 50):
            assert not set(idx.tolist()) & set(read_index_list(task, "train", size).tolist())
    np.testing.assert_array_equal(np.bincount(phantom_labels, minlength=10), np.bincount(labels, minlength=10))
    again = phantom_items.__wrapped__(task, tuple(train_idx.tolist()), tuple(labels.tolist()), subset_seed)
    np.testing.assert_array_equal(again[2], idx)  # deterministic
    assert images.dtype == np.uint8 and len(images) == len(idx)


def test_too_few_held_out_items_is_one_line():
    with pytest.raises(BadInput, match="phantom items"):
        phantom_items.__wrapped__("cifar10", tuple(range(60000)), tuple([0] * 60000), 0)


@pytest.fixture(scope="module")
def contexts(trained_seed, experiment):
    """Seed 446, checkpoint 14, its first 60 test items: the train items, and the same items scored as other items."""
    ctx = make_context(experiment, 446, 14)
    ctx.test = ctx.test.head(60)
    return ctx, ctx.for_items(Subset(ctx.train.x.clone(), ctx.train.y.clone(), ctx.train.idx.clone()))


def test_scoring_the_train_items_through_the_phantom_path_gives_their_own_scores(contexts):
    """The rows of every method that scores an item by a formula in that item (its gradient, features or one step)
    are the same whether it is a train item or scored as another item: the phantom rows use the same formula."""
    ctx, as_other = contexts
    methods = [get(m) for m in ROW_METHODS]
    train, other = compute(ctx, methods), compute(as_other, methods)
    for name in ROW_METHODS:
        a, b = train[name].double(), other[name].double()
        assert a.shape == b.shape == (30, 60), name
        scale = a.abs().max()
        assert (a - b).abs().max() <= 2e-5 * scale, f"{name}: {((a - b).abs().max() / scale).item():.1e}"


def test_leaving_out_an_item_that_was_never_trained_on_changes_nothing(contexts, experiment):
    ctx, _ = contexts
    items = experiment.family.load_phantoms(experiment, ctx.net, ctx.train)
    phantom = ctx.for_items(items)
    corrected, loo = get("loo_corrected").score(phantom), get("loo").score(phantom)
    train_loo, train_corrected = get("loo").score(ctx), get("loo_corrected").score(ctx)
    assert corrected.shape == (30, 60) and torch.count_nonzero(corrected) == 0
    shift = train_loo[0] - train_corrected[0]  # L(θ_full) − L(θ_t): the extra training, the same for every item
    assert torch.allclose(loo, shift[None].expand_as(loo), rtol=0, atol=1e-6 * float(shift.abs().max()))


def test_phantom_gradients_meet_the_test_gradients_as_autograd_computes_them(contexts, experiment):
    ctx, _ = contexts
    items = experiment.family.load_phantoms(experiment, ctx.net, ctx.train)
    gd = get("gd").score(ctx.for_items(items)).double()
    from torch.func import functional_call  # noqa: PLC0415

    def grad(x, y):
        params = {k: v.detach().double().requires_grad_(True) for k, v in ctx.params.items()}
        net = ctx.net.double()
        loss = torch.nn.functional.cross_entropy(functional_call(net, params, (x[None].double(),)), y[None])
        ctx.net.float()
        return torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(params.values()))])

    for j in (0, 17):
        for i in (0, 41):
            direct = float(grad(items.x[j], items.y[j]) @ grad(ctx.test.x[i], ctx.test.y[i]))
            assert gd[j, i].item() == pytest.approx(direct, rel=2e-4, abs=1e-6 * gd.abs().max().item())


def test_the_random_control_draws_the_phantoms_from_another_stream(contexts, experiment):
    ctx, _ = contexts
    items = experiment.family.load_phantoms(experiment, ctx.net, ctx.train)
    a, b = get("random").score(ctx), get("random").score(ctx.for_items(items))
    assert a.shape == b.shape and not torch.equal(a, b)
    assert torch.equal(b, get("random").score(ctx.for_items(items)))


def test_the_pipeline_writes_phantom_files_the_analysis_reads(small_run):
    experiment, seeds, methods = small_run
    for seed in seeds:
        run_scores(experiment, seed, ["gd", "ats"], epochs=[13, 14], show_progress=False, phantoms=True)
    values, rows, test_idx = load_phantom_array(experiment, "gd", seeds[0], 14)
    train = load_subset(experiment.task, "train", experiment.num_per_class)
    assert values.shape == (len(train.y), len(test_idx)) and not set(rows.tolist()) & set(train.idx.tolist())
    np.testing.assert_array_equal(test_idx, load_array(experiment, "gd", seeds[0], 14)[2])
    assert load_phantom_array(experiment, "ats", seeds[1], 13)[0].shape == values.shape


def _posterior(method, values):
    s, k, n, m = values.shape
    return PosteriorScores(method, values, list(range(s)), list(range(k)), np.arange(n), np.arange(m))


def test_false_trust_is_noise_rate_on_noise_and_total_on_a_constant_offset():
    rng = np.random.default_rng(0)
    s, k, n, m = 10, 1, 30, 400
    real = _posterior("a", rng.normal(size=(s, k, n, m)))
    noise = _posterior("a", rng.normal(size=(s, k, n, m)))
    offset = _posterior("a", 5 + 0.1 * rng.normal(size=(s, k, n, m)))
    for phantoms, expected in ((noise, z_noise_rate(s)), (offset, 1.0)):
        table = phantom_table({"a": real}, {"a": phantoms}, {"a": 1}, {"a": 1})
        z = table[table["test"] == TESTS[0].label(s)].iloc[0]
        assert z["false_trust_rate"] == pytest.approx(expected, abs=max(3e-3, 3 * np.sqrt(expected / (n * m))))


def test_a_method_that_scores_phantoms_at_zero_keeps_its_rank_correlation_with_the_truth():
    rng = np.random.default_rng(1)
    s, n, m = 5, 12, 20
    truth_values = rng.normal(size=(s, 1, n, m))
    classes = ItemClasses(np.repeat([0, 1, 2], 4), np.repeat([0, 1], 10))
    phantom_labels = np.repeat([0, 1, 2], 4)
    posteriors = {"truth": _posterior("truth", truth_values), "good": _posterior("good", truth_values.copy())}
    phantoms = {"good": _posterior("good", np.zeros((s, 1, n, m))),
                "truth": _posterior("truth", np.zeros((s, 1, n, m)))}
    table = phantom_table(posteriors, phantoms, {"truth": 1, "good": 1}, {"truth": 1, "good": 1}, "truth", classes,
                          phantom_labels).set_index("method")
    assert table.loc["good", "loo_corr_within_class"].iloc[0] == pytest.approx(1.0)
    mean = truth_values.mean(axis=(0, 1))
    rho = [stats.spearmanr(np.r_[mean[classes.train == c, j], np.zeros(4)],
                           np.r_[mean[classes.train == c, j], np.zeros(4)]).statistic
           for j, c in enumerate(classes.test)]
    assert table.loc["good", "loo_corr_within_class_with_phantoms"].iloc[0] == pytest.approx(np.mean(rho))
    assert table.loc["good", "false_trust_rate"].max() == 0.0


def test_the_analysis_leaves_the_phantom_null_out_where_no_files_exist(small_run):
    experiment, seeds, _ = small_run
    posteriors, labels = load_phantom_posteriors(experiment, ["ats"], seeds)
    assert posteriors == {} and labels is None  # ats has phantom files at two of its five checkpoints at most


def test_phantom_halves_cost_a_method_lds_only_by_what_it_gives_the_phantoms():
    from bayestda.analysis import SubsetLosses  # noqa: PLC0415
    from bayestda.analysis.phantoms import phantom_halves  # noqa: PLC0415

    rng = np.random.default_rng(2)
    s, n, m, subsets = 4, 12, 15, 40
    labels = np.repeat([0, 1, 2], 4)
    halves = phantom_halves(subsets, labels, stratified=True)
    assert (halves.reshape(subsets, 3, 4).sum(axis=2) == 2).all()  # half of each class's phantoms
    masks = rng.random((subsets, n)) < 0.5
    effect = rng.normal(size=(n, m))
    losses = -(masks.astype(float) @ effect)[None] + 0.01 * rng.normal(size=(s, subsets, m))
    targets = SubsetLosses(masks, losses, np.arange(n), np.arange(m))
    exact = _posterior("exact", np.broadcast_to(effect, (s, 1, n, m)).copy())
    quiet = {"exact": _posterior("exact", np.zeros((s, 1, n, m)))}
    loud = {"exact": _posterior("exact", 10 * rng.normal(size=(s, 1, n, m)))}
    for phantoms, drops in ((quiet, False), (loud, True)):
        row = phantom_table({"exact": exact}, phantoms, {"exact": 1}, {"exact": 1}, phantom_labels=labels,
                            within_class_losses=targets).iloc[0]
        assert row["lds_within_class"] > 0.95
        if drops:
            assert row["lds_within_class_with_phantoms"] < row["lds_within_class"] - 0.3
        else:
            assert row["lds_within_class_with_phantoms"] == row["lds_within_class"]


def test_a_phantom_is_on_top_exactly_where_its_score_is_the_largest_in_the_class():
    from bayestda.analysis.phantoms import phantom_on_top  # noqa: PLC0415

    classes = ItemClasses(np.array([0, 0, 1, 1]), np.array([0, 1, 1]))
    train = np.array([[1.0, 0.0, 0.0], [-3.0, 0.0, 0.0], [0.0, 2.0, 0.5], [0.0, -1.0, 0.1]])
    phantoms = np.array([[2.5, 9.0, 9.0], [0.0, 3.0, -0.2]])  # classes 0 and 1
    np.testing.assert_array_equal(phantom_on_top(train, phantoms, classes, np.array([0, 1])), [0.0, 1.0, 0.0])
