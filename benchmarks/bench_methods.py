"""Today's methods against the implementation each was checked against, on the same checkpoint, in one run.

cnn_mnist3_10pc, seed 446, checkpoint 14 (TracInCP: all five), the 30 train items and the first --test-items test
items. For each method: our time (a fresh context, so the shared gradients are counted), the reference's time,
the ratio and the largest difference over the reference's scale:
- ekfac   vs kronfluence 1.0's EK-FAC (expected Fisher, λ = 5e-3, float64; tests/references.py)
- trak    vs its definition in float64 (the margin's autograd gradients item by item, an explicit projection matrix)
- rps     vs scipy's L-BFGS-B re-fitting the last layer, then the representer split
- tracincp vs its definition: per-item autograd gradients at each checkpoint, Σ_t η_t g_t(z_j)·g_t(z)
(arnoldi has no reference at this size: its test compares with a dense Hessian's eigenpairs on a 123-parameter
MLP; the CNN's Hessian has 225,034² entries.) Needs the seed's checkpoints (`make bench` trains them).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from bayestda.attribution import EKFACSettings, RPSSettings, TrakSettings, ekfac_influence, rps, trak
from bayestda.attribution.gradients import tracincp_term
from bayestda.data import Subset
from bayestda.experiment import Experiment
from bayestda.flags import Parser, positive_int
from bayestda.paths import REPO_ROOT
from bayestda.pipeline import make_context

sys.path.insert(0, str(REPO_ROOT / "tests"))
from references import kronfluence_ekfac, loss_gradients, rps_definition, trak_reference  # noqa: E402

SEED = 446


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def context(experiment: Experiment, epoch: int, items: int):
    ctx = make_context(experiment, SEED, epoch)
    ctx.test = Subset(ctx.test.x[:items], ctx.test.y[:items], ctx.test.idx[:items])
    return ctx


def tracincp_reference(contexts) -> torch.Tensor:
    return sum(c.lr * loss_gradients(c.net, c.params, c.train.x, c.train.y)
               @ loss_gradients(c.net, c.params, c.test.x, c.test.y).T for c in contexts)


def difference(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return float((ours.double() - reference.double()).abs().max() / reference.double().abs().max())


def main(argv: list[str] | None = None) -> None:
    parser = Parser(description=__doc__)
    parser.add_argument("--test-items", type=positive_int, default=100)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("bench_methods.json"))
    args = parser.parse_args(argv)
    experiment = Experiment("cnn", "mnist3", 10)
    items = args.test_items
    ekfac_influence(context(experiment, 13, 8))  # warm-up: first calls allocate
    rows = {}

    def compare(name, ours_fn, reference_fn, reference_name):
        ours, ours_s = timed(ours_fn)
        reference, reference_s = timed(reference_fn)
        rows[name] = {"ours_s": ours_s, "reference": reference_name, "reference_s": reference_s,
                      "reference_over_ours": reference_s / ours_s, "max_difference_over_scale": difference(ours, reference)}

    compare("ekfac", lambda: ekfac_influence(context(experiment, 14, items)),
            lambda: (lambda c: kronfluence_ekfac(c.net, c.params, c.train, c.test, EKFACSettings().damping))(
                context(experiment, 14, items)), "kronfluence 1.0.1 EK-FAC")
    compare("trak", lambda: trak(context(experiment, 14, items)),
            lambda: (lambda c: trak_reference(c.net, c.params, c.train, c.test, TrakSettings()))(
                context(experiment, 14, items)), "definition, float64, item by item")
    compare("rps", lambda: rps(context(experiment, 14, items)),
            lambda: torch.from_numpy(rps_definition(context(experiment, 14, items).at_dtype(torch.float64),
                                                    RPSSettings().l2)[3]), "scipy L-BFGS-B + representer split")
    compare("tracincp (5 checkpoints)",
            lambda: sum(tracincp_term(context(experiment, e, items)) for e in experiment.checkpoint_epochs),
            lambda: tracincp_reference([context(experiment, e, items) for e in experiment.checkpoint_epochs]),
            "definition, float64, item by item")
    print(f"cnn_mnist3_10pc, seed {SEED}, checkpoint 14, 30 train x {items} test items, "
          f"{torch.get_num_threads()} threads")
    print(f"{'method':26s} {'ours s':>8s} {'reference s':>12s} {'ratio':>7s} {'max diff':>9s}  reference")
    for name, row in rows.items():
        print(f"{name:26s} {row['ours_s']:8.2f} {row['reference_s']:12.2f} {row['reference_over_ours']:6.1f}x "
              f"{row['max_difference_over_scale']:9.1e}  {row['reference']}")
    args.output.write_text(json.dumps({"test_items": items, "threads": torch.get_num_threads(), "methods": rows},
                                      indent=2))


if __name__ == "__main__":
    main()
