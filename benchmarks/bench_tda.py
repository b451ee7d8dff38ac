"""Speed of the vectorised methods against the paper's per-item algorithms, measured in one run.

cnn_mnist3_10pc, seed 446: each method at checkpoint 14 vectorised, then the paper's algorithm as its
scripts do it (gradients recomputed for every train-test pair, LiSSA run once per test item, one model
per LOO and ATS run). The per-test-item algorithms (GD/GC, s_test, IF) are timed on --paper-test-items
test items and scaled linearly to all 900 (their cost is exactly linear in test items); --full runs
them on all items. Then the six methods with the paper's settings over all 5 checkpoints of the seed,
and the corrected variants separately. Needs the seed's checkpoints (python run_cnn_training.py
--task mnist3 --num_per_class 10 --seed_id 0).
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from bayestda.attribution import ats, converged, grad_cos, grad_dot, influence_scores, lissa, loo, tracin_term
from bayestda.attribution.retraining import loo_weights
from bayestda.cli.flags import Parser, positive_int
from bayestda.experiments.experiment import Experiment
from bayestda.numerics.many_models import paper_batch_order, train_many
from bayestda.scores.pipeline import compute, make_context

PAPER_SIX = ("loo", "ats", "if", "gd", "gc", "tracin")


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --- the paper's per-item algorithms (as its scripts run them) --------------------------------------
def item_grad(model, x, y):
    loss = F.cross_entropy(model(x.unsqueeze(0)), y.unsqueeze(0))
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(model.parameters()))])


def paper_gd_gc(model, ctx, test_items):
    for t in range(test_items):
        g_test = item_grad(model, *ctx.test[t][:2])
        for j in range(len(ctx.train)):
            g_train = item_grad(model, *ctx.train[j][:2])
            torch.dot(g_test, g_train).item()
            F.cosine_similarity(g_test, g_train, dim=0).item()


def paper_s_test(model, ctx, test_items, damp=5e-3, scale=1e4):
    params = list(model.parameters())
    out = []
    for t in range(test_items):
        v = item_grad(model, *ctx.test[t][:2])
        h = v.clone()
        for start in range(0, len(ctx.train), 8):
            x, y = ctx.train.x[start : start + 8], ctx.train.y[start : start + 8]
            grads = torch.autograd.grad(F.cross_entropy(model(x), y), params, create_graph=True)
            flat = torch.cat([g.flatten() for g in grads])
            hv = torch.cat([g.flatten() for g in torch.autograd.grad(flat @ h, params)])
            h = (v + (1 - damp) * h - hv / scale).detach()
        out.append(h / scale)
    return out


def paper_if(model, ctx, s_tests):
    for s in s_tests:
        for j in range(len(ctx.train)):
            (-(item_grad(model, *ctx.train[j][:2]) @ s)).item()


def test_losses(model, ctx):
    with torch.no_grad():
        return torch.cat([F.cross_entropy(model(ctx.test.x[i : i + 64]), ctx.test.y[i : i + 64], reduction="none")
                          for i in range(0, len(ctx.test), 64)])



def paper_ats(model, ctx):
    for j in range(len(ctx.train)):
        m = copy.deepcopy(model)
        before = test_losses(m, ctx)
        opt = torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=5e-3)
        x, y, _ = ctx.train[j]
        opt.zero_grad()
        nn.CrossEntropyLoss(reduction="none")(m(x.unsqueeze(0)), y.unsqueeze(0)).mean().backward()
        opt.step()
        test_losses(m, ctx) - before


def paper_loo(model, ctx):
    for j in range(len(ctx.train)):
        m = copy.deepcopy(model)
        before = test_losses(m, ctx)
        opt = torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=5e-3)
        torch.manual_seed(ctx.seed)
        loader = DataLoader(ctx.train, batch_size=32, shuffle=True)
        for _ in range(ctx.epochs):
            for inputs, labels, indices in loader:
                opt.zero_grad()
                loss = nn.CrossEntropyLoss(reduction="none")(m(inputs), labels)
                loss[torch.where(torch.isin(indices, ctx.train.idx[j]))] = 0
                loss.mean().backward()
                opt.step()
        test_losses(m, ctx) - before


def main(argv: list[str] | None = None) -> None:
    parser = Parser(description=__doc__)
    parser.add_argument("--paper-test-items", type=positive_int, default=60)
    parser.add_argument("--full", action="store_true", help="run the paper's per-test-item algorithms on all items")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("bench_tda.json"))
    args = parser.parse_args(argv)
    experiment, seed = Experiment("cnn", "mnist3", 10), 446
    compute(make_context(experiment, seed, 13), PAPER_SIX + ("if_converged",))  # warm-up: first calls trace and allocate

    fresh = lambda: make_context(experiment, seed, 14)  # noqa: E731  a context with empty caches
    ours = {
        "gd+gc": timed(lambda: (lambda c: (grad_dot(c), grad_cos(c)))(fresh())),
        "if (s_test + scores)": timed(lambda: (lambda c: influence_scores(c, lissa(c)))(fresh())),
        "ats": timed(lambda: ats(fresh())),
        "loo (+ loo_corrected)": timed(lambda: loo(fresh())),
        "tracin": timed(lambda: tracin_term(fresh())),
        "if_converged": timed(lambda: (lambda c: influence_scores(c, converged(c)))(fresh())),
    }
    ctx = fresh()
    model = copy.deepcopy(ctx.net)
    model.load_state_dict(ctx.params, strict=False)
    n_test = len(ctx.test)
    items = n_test if args.full else args.paper_test_items
    scale = n_test / items
    s_tests = []
    paper = {
        "gd+gc": timed(lambda: paper_gd_gc(model, ctx, items)) * scale,
        "if (s_test + scores)": timed(lambda: s_tests.extend(paper_s_test(model, ctx, items))) * scale
        + timed(lambda: paper_if(model, ctx, s_tests)) * scale,
        "ats": timed(lambda: paper_ats(model, ctx)),
        "loo (+ loo_corrected)": timed(lambda: paper_loo(model, ctx)),
    }
    print(f"cnn_mnist3_10pc, seed {seed}, checkpoint 14, {torch.get_num_threads()} threads "
          f"(paper's per-test-item algorithms timed on {items} of {n_test} test items, scaled)")
    print(f"{'method':24s} {'vectorised s':>13s} {'paper s':>10s} {'speed-up':>9s}")
    for name, seconds in ours.items():
        if name in paper:
            print(f"{name:24s} {seconds:13.2f} {paper[name]:10.1f} {paper[name] / seconds:8.0f}x")
        else:
            print(f"{name:24s} {seconds:13.2f} {'-':>10s} {'-':>9s}")

    def all_checkpoints(methods):
        for epoch in experiment.checkpoint_epochs:
            compute(make_context(experiment, seed, epoch), methods)

    n = len(ctx.train)
    starts, weights = [ctx.params] * (n + 1), loo_weights(n, torch.float32)
    batches = paper_batch_order(n, 3)
    strategies = {k: timed(lambda k=k: train_many(ctx.net, starts, ctx.train.x, ctx.train.y, batches, weights, strategy=k,
                                                  workers=ctx.workers)) for k in ("loop", "stacked")}
    print(f"many-model trainer, {n + 1} LOO models x 3 epochs: loop {strategies['loop']:.1f} s, "
          f"stacked (vmap) {strategies['stacked']:.1f} s -> 'auto' uses the "
          f"{'loop' if strategies['loop'] < strategies['stacked'] else 'stacked models'} on this device")
    six = timed(lambda: all_checkpoints(PAPER_SIX))
    corrected = timed(lambda: all_checkpoints(("if_converged",)))
    print(f"six methods (paper settings, incl. loo_corrected), 5 checkpoints: {six:.1f} s")
    print(f"if_converged alone, 5 checkpoints: {corrected:.1f} s")
    args.output.write_text(json.dumps({"vectorised_s": ours, "paper_s": paper, "paper_test_items": items,
                                       "trainer_strategies_s": strategies,
                                       "six_methods_5_ckpts_s": six, "if_converged_5_ckpts_s": corrected}, indent=2))


if __name__ == "__main__":
    main()
