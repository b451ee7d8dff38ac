"""The LoRA ViT half, on CPU with the random-tiny backbone: the same code paths as the paper's ViT-B/16.

Fine-tuning is reproducible from the seed, checkpoints reload, LoRA targets are found under both
transformers module-name schemes, and every TDA method equals a per-item reference over the trainable
(LoRA + classifier) parameters, in float64.
"""

import copy
import json
import subprocess
import sys

import pytest
import torch
import transformers
from test_attribution import SEED, autograd_grad, close, losses_on_test, paper_s_test, trainable
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from bayestda.attribution import (
    CheckpointContext,
    ConvergedSettings,
    ats,
    converged,
    grad_cos,
    grad_dot,
    influence_scores,
    lissa,
    loo,
    loo_pretrained,
)
from bayestda.attribution.retraining import loo_weights
from bayestda.core.errors import BayesTDAError
from bayestda.core.params import FlatView
from bayestda.data.subsets import generate_subsets
from bayestda.data.vit_images import load_vit_data
from bayestda.experiments.experiment import Experiment
from bayestda.models.vit import _random_backbone as random_backbone
from bayestda.models.vit import build_lora_vit, image_size_of, lora_targets
from bayestda.numerics.evaluation import per_sample_losses
from bayestda.numerics.many_models import paper_batch_order, seeded, train_many
from bayestda.results.analysis import run_correlations, run_pvalues
from bayestda.scores.pipeline import run_scores
from bayestda.training.checkpoints import load_checkpoint
from bayestda.training.vit_finetuning import finetune_seed

pytestmark = pytest.mark.slow  # subprocesses, many seeds or models: `make test` only

VIT = Experiment("vittiny", "mnist3", 10)


@pytest.fixture(scope="module")
def tuned(mnist3_subsets):
    """Seed 446 of vittiny_mnist3_10pc, fine-tuned once for this module (about 5 s)."""
    return finetune_seed(VIT, SEED)


@pytest.fixture(scope="module")
def vctx(tuned):
    net, params = load_checkpoint(VIT, SEED, 14)
    train, test = load_vit_data("mnist3", 10, image_size_of(net))
    return CheckpointContext(net, params, train.head(10), test.head(8), SEED, epochs=2, dtype=torch.float64)


def reference_model(ctx):
    model = copy.deepcopy(ctx.net)
    model.load_state_dict(ctx.params, strict=False)
    return model.double().eval()


# --- model ----------------------------------------------------------------------------------------
class _OldSchemeAttention(nn.Module):
    """transformers 4.x names: attention.attention.{query,key,value}."""

    def __init__(self):
        super().__init__()
        self.attention = nn.ModuleDict({n: nn.Linear(4, 4) for n in ("query", "key", "value")})


def test_lora_targets_are_found_for_both_transformers_module_name_schemes():
    installed = random_backbone("random-tiny")  # a real transformers ViT, whichever major version is installed
    major = int(transformers.__version__.split(".")[0])
    assert lora_targets(installed) == (["q_proj", "v_proj"] if major >= 5 else ["query", "value"])
    old_scheme = nn.ModuleDict({"layer": nn.ModuleDict({"attention": _OldSchemeAttention()})})
    assert lora_targets(old_scheme) == ["query", "value"]
    with pytest.raises(BayesTDAError, match="no attention query/value"):
        lora_targets(nn.Sequential(nn.Linear(2, 2)))


def test_only_lora_and_classifier_train_and_the_random_backbone_is_the_same_for_every_seed():
    torch.manual_seed(1)
    a = build_lora_vit("random-tiny")
    torch.manual_seed(2)
    b = build_lora_vit("random-tiny")
    names = [n for n, p in a.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n or "classifier.modules_to_save" in n for n in names)
    frozen_a = {n: p for n, p in a.named_parameters() if not p.requires_grad and "classifier" not in n}
    frozen_b = {n: p for n, p in b.named_parameters() if not p.requires_grad and "classifier" not in n}
    assert all(torch.equal(frozen_a[n], frozen_b[n]) for n in frozen_a)
    assert not torch.equal(dict(a.named_parameters())[names[0]], dict(b.named_parameters())[names[0]])


def test_unreachable_weights_give_one_line_naming_the_options(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for weights in ("google/vit-base-patch16-224-in21k", str(tmp_path / "no-such-dir")):
        with pytest.raises(BayesTDAError) as info:
            build_lora_vit(weights)
        message = str(info.value)
        assert "\n" not in message and weights in message and "random-tiny" in message and "local directory" in message


# --- fine-tuning and checkpoints -----------------------------------------------------------------
def test_fine_tuning_is_reproducible_from_the_seed(tuned):
    first = {e: torch.load(VIT.checkpoint_path(SEED, e))["model_state_dict"] for e in VIT.checkpoint_epochs}
    again = finetune_seed(VIT, SEED, overwrite=True)
    for epoch, state in first.items():
        reloaded = torch.load(VIT.checkpoint_path(SEED, epoch))
        assert reloaded["backbone"] == "random-tiny"
        assert all(torch.equal(state[n], reloaded["model_state_dict"][n]) for n in state)
    assert again["train_loss"] == tuned["train_loss"]
    assert len(first) == 5 and again["train_loss"][-1] < again["train_loss"][0]  # five checkpoints; it learns


def test_checkpoints_hold_only_trainable_weights_and_reload_to_the_same_predictions(tuned):
    blob = torch.load(VIT.checkpoint_path(SEED, 14))
    net, params = load_checkpoint(VIT, SEED, 14)
    assert set(blob["model_state_dict"]) == set(params)
    _, test = load_vit_data("mnist3", 10, image_size_of(net))
    loss = per_sample_losses(net, params, test.x, test.y).mean().item()
    assert loss == pytest.approx(tuned["checkpoints"]["14"]["test_loss"], rel=1e-5)


# --- TDA methods against per-item references -----------------------------------------------------
def test_vit_grad_dot_and_grad_cos_equal_double_loops_over_trainable_gradients(vctx):
    model = reference_model(vctx)
    train = torch.stack([autograd_grad(model, *vctx.train[j][:2]) for j in range(len(vctx.train))])
    test = torch.stack([autograd_grad(model, *vctx.test[t][:2]) for t in range(len(vctx.test))])
    assert train.shape[1] == sum(p.numel() for p in trainable(model)) < sum(p.numel() for p in model.parameters())
    assert close(grad_dot(vctx), train @ test.T)
    assert close(grad_cos(vctx), F.cosine_similarity(train[:, None], test[None], dim=2))


def test_vit_lissa_influence_equals_the_papers_per_test_item_recursion(vctx):
    model = reference_model(vctx)
    train = torch.stack([autograd_grad(model, *vctx.train[j][:2]) for j in range(len(vctx.train))])
    reference = torch.stack(
        [-(train @ paper_s_test(model, vctx, autograd_grad(model, *vctx.test[t][:2]))) for t in range(len(vctx.test))], dim=1
    )
    assert close(influence_scores(vctx, lissa(vctx, side="test")), reference, 1e-6)
    assert close(influence_scores(vctx, lissa(vctx, side="train")), reference, 1e-6)


def test_vit_converged_inverse_solves_the_damped_gauss_newton_system(vctx):
    """(G + λI) s = v, with G applied by per-item autograd Jacobians (too many parameters for a dense G)."""
    inverse = converged(vctx, ConvergedSettings(tolerance=1e-10), side="test")
    view = FlatView.of(vctx.params)
    flat = view.flatten(vctx.params)

    def logits(v, i):
        return torch.func.functional_call(vctx.net, view.unflatten(v), (vctx.train.x[i : i + 1],))[0]

    applied = 5e-3 * inverse.vectors
    for i in range(len(vctx.train)):
        jac = torch.autograd.functional.jacobian(lambda v, i=i: logits(v, i), flat)  # [C, P]
        p = torch.softmax(logits(flat, i), 0)
        applied += ((inverse.vectors @ jac.T) @ (torch.diag(p) - torch.outer(p, p)) @ jac) / len(vctx.train)
    v = vctx.test_grads()
    assert ((applied - v).norm(dim=1) / v.norm(dim=1)).max() < 1e-8
    assert inverse.residuals.max() < 1e-10


def test_vit_ats_equals_one_adam_step_of_the_trainable_weights_per_item(vctx):
    model = reference_model(vctx)
    before = losses_on_test(model, vctx)
    rows = []
    for j in range(len(vctx.train)):
        stepped = copy.deepcopy(model)  # eval mode: the item's gradient without dropout, as every TDA gradient
        optimizer = torch.optim.Adam(trainable(stepped), lr=1e-3, weight_decay=5e-3)
        x, y, _ = vctx.train[j]
        F.cross_entropy(stepped(x.unsqueeze(0)), y.unsqueeze(0)).backward()
        optimizer.step()
        rows.append(losses_on_test(stepped, vctx) - before)
    assert close(ats(vctx), torch.stack(rows))


def retrain_sharing_dropout(ctx, start, removed, epochs, decay=False):
    """One LOO run by hand: seed, draw the batch order, then train (dropout on) with item `removed` zeroed."""
    model = start.train()
    optimizer = torch.optim.Adam(trainable(model), lr=1e-3, weight_decay=5e-3)
    torch.manual_seed(ctx.seed)
    loader = DataLoader(list(range(len(ctx.train))), batch_size=32, shuffle=True)
    batches = [list(loader) for _ in range(epochs)]  # the dropout stream starts after the batch order
    steps = sum(len(b) for b in batches)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: (steps - k) / steps if decay else 1.0)
    for epoch in batches:
        for positions in epoch:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(ctx.train.x[positions]), ctx.train.y[positions], reduction="none")
            loss = torch.where(positions == removed, torch.zeros_like(loss), loss)
            loss.mean().backward()
            optimizer.step()
            schedule.step()
    return model.eval()


def test_vit_loo_equals_one_retraining_per_removed_item_with_shared_dropout(tuned):
    generate_subsets("mnist3", [20])
    net, params = load_checkpoint(VIT, SEED, 14)
    train, test = load_vit_data("mnist3", 20, image_size_of(net))
    ctx = CheckpointContext(net, params, train.head(36), test.head(6), SEED, epochs=2, dtype=torch.float64)
    model = reference_model(ctx)
    before = losses_on_test(model, ctx)
    twin = losses_on_test(retrain_sharing_dropout(ctx, copy.deepcopy(model), -1, 2), ctx)
    removed = [0, 7, 33]  # a slice of the rows: one full retraining each
    after = torch.stack([losses_on_test(retrain_sharing_dropout(ctx, copy.deepcopy(model), j, 2), ctx) for j in removed])
    ours = loo(ctx)
    assert close(ours["loo"][removed], after - before)
    assert close(ours["loo_corrected"][removed], after - twin)


def test_vit_loo_from_the_pretrained_backbone_is_the_papers_variant(tuned):
    net, params = load_checkpoint(VIT, SEED, 14)
    train, test = load_vit_data("mnist3", 10, image_size_of(net))
    ctx = CheckpointContext(net, params, train.head(12), test.head(5), SEED, epochs=2, dtype=torch.float64,
                            fresh_start=VIT.family.fresh_start(VIT, SEED))
    model = reference_model(ctx)
    before = losses_on_test(model, ctx)
    fresh = copy.deepcopy(model)
    fresh.load_state_dict({n: p.double() for n, p in ctx.fresh_start().items()}, strict=False)
    after = torch.stack([losses_on_test(retrain_sharing_dropout(ctx, copy.deepcopy(fresh), j, 2, decay=True), ctx)
                         for j in (0, 11)])
    assert close(loo_pretrained(ctx)[[0, 11]], after - before)


def test_stacked_and_loop_trainers_draw_the_same_dropout_masks(vctx):
    starts = [vctx.params] * 3
    weights = loo_weights(len(vctx.train), torch.float64)[:3]
    results = []
    for strategy in ("loop", "stacked", "stacked-chunked"):
        with seeded(5):
            batches = paper_batch_order(len(vctx.train), 2, batch_size=4)
            results.append(train_many(vctx.net, starts, vctx.train.x, vctx.train.y, batches, weights,
                                      strategy=strategy.split("-")[0], model_chunk=2 if "chunked" in strategy else None))
    view = vctx.view
    for other in results[1:]:
        assert all(torch.allclose(view.flatten(a), view.flatten(b), atol=1e-12) for a, b in zip(results[0], other))
    with seeded(6):  # another dropout stream gives other weights: dropout is really on
        batches = paper_batch_order(len(vctx.train), 2, batch_size=4)
        shifted = train_many(vctx.net, starts, vctx.train.x, vctx.train.y, batches, weights, strategy="loop")
    assert not torch.allclose(view.flatten(results[0][0]), view.flatten(shifted[0]))


# --- scripts and analysis ------------------------------------------------------------------------
def test_vit_scripts_write_the_papers_layout_and_the_analysis_runs_unchanged(tuned, mnist3_subsets):
    seeds = [446, 724, 571]
    subprocess.run([sys.executable, "tda_vit_scripts/run_vit_gd_and_gc.py", "--vit-weights", "random-tiny", "--seed_id", "0"],
                   check=True, capture_output=True)
    for seed in seeds[1:]:  # the same code in-process: the script is a thin wrapper
        finetune_seed(VIT, seed)
        run_scores(VIT, seed, ["gd", "gc"], show_progress=False)
    frame = __import__("pandas").read_csv(VIT.scores_path("gd", SEED, 14))
    assert list(frame.columns[:2]) == ["train_idx", f"z_test_{int(load_vit_data('mnist3', 10, 32)[1].idx[0])}"]
    assert len(frame) == 30 and frame.shape[1] == 901
    significance = run_pvalues(VIT, ["gd", "gc"], seeds)
    assert set(significance["method"]) == {"gd", "gc"}
    summary = run_correlations(VIT, ["gd", "gc"], seeds)
    assert "vittiny_mnist3_10pc" in summary and (VIT.analysis_dir(["gd", "gc"], seeds) / "spearman_corr_mu.csv").exists()
    metrics = json.loads(VIT.metrics_path(SEED).read_text())
    assert metrics["experiment"] == "vittiny_mnist3_10pc"


def test_vit_phantoms_are_scored_in_the_vit_transform_and_loo_pretrained_retrains_once_on_every_item(tuned):
    net, params = load_checkpoint(VIT, SEED, 14)
    train, test = load_vit_data("mnist3", 10, image_size_of(net))
    phantoms = VIT.family.load_phantoms(VIT, net, train)
    assert phantoms.x.shape[1:] == train.x.shape[1:] and not set(phantoms.idx.tolist()) & set(train.idx.tolist())
    ctx = CheckpointContext(net, params, train.head(6), test.head(4), SEED, epochs=1, dtype=torch.float64,
                            fresh_start=VIT.family.fresh_start(VIT, SEED))
    other = ctx.for_items(phantoms.head(3))
    full = ctx.for_items(train.head(6))  # the same items through the phantom path: GD's rows are their own
    assert close(grad_dot(full), grad_dot(ctx))
    rows = loo_pretrained(other)
    assert rows.shape == (3, 4) and torch.equal(rows[0], rows[2])
    model = reference_model(ctx)
    fresh = copy.deepcopy(model)
    fresh.load_state_dict({n: p.double() for n, p in ctx.fresh_start().items()}, strict=False)
    retrained = retrain_sharing_dropout(ctx, fresh, -1, 1, decay=True)  # no item removed
    assert close(rows[0], losses_on_test(retrained, ctx) - losses_on_test(model, ctx))
