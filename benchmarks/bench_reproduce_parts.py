"""The make-reproduce changes of issue 34 against the code they replaced, alternately in one run (seed 446 of
cnn_mnist3_10pc, one thread, median of 3 rounds), with the largest difference over each result's scale:

- trak: test gradients meeting B = Pᵀ Φ⁺ (version 2) against projecting them to k (version 1, written out here);
- LDS: one channels-last evaluation of many models (LDS version 2) against each model's forward (version 1);
- Gauss-Newton rows: batched backward passes per class (if_converged version 3) against vmap(jacrev) (version 2,
  the fallback kept in the code for layers other than Linear/Conv2d);
- the seed-count table (analysis): each seed's last-K mean made once per method and K, μ/σ once for the tests that
  threshold it, against re-averaging per subset and per test (written out here; where the experiment's score files
  of six methods exist, else left out).

    python benchmarks/bench_reproduce_parts.py        # writes benchmarks/bench_reproduce_parts.json

Needs seed 446's checkpoints (make reproduce, or run_cnn_training.py --seed_id 0).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import torch

from bayestda.analysis import seed_count
from bayestda.analysis.metrics import PreparedTarget
from bayestda.analysis.statistics import TESTS
from bayestda.attribution import influence
from bayestda.attribution.trak import TrakSettings, one_minus_p, projection_rows, trak
from bayestda.core.errors import BayesTDAError
from bayestda.experiments.experiment import Experiment
from bayestda.numerics.evaluation import losses_of_models, per_sample_losses
from bayestda.results.analysis import builtin_roles, experiment_classes, lds_losses_for, load_all
from bayestda.scores.pipeline import make_context
from bayestda.training.lds import draw_subsets, seed_start, train_on_subset

SEED, EPOCH, ROUNDS = 446, 14, 3


def trak_version_1(ctx, settings: TrakSettings = TrakSettings()) -> torch.Tensor:
    """TRAK as version 1 computed it: both sides projected block by block, then φ_test Φ⁺."""
    train, test = ctx.train_gradients(), ctx.test_gradients()
    parts = [(train.products(rows).T, test.products(rows).T) for rows in (
        projection_rows(settings, s, min(s + 64, settings.dim), ctx.view.numel, ctx.dtype, ctx.device)
        for s in range(0, settings.dim, 64))]
    q_train, q_test = one_minus_p(ctx)
    phi_train = -torch.cat([p[0] for p in parts], 1).double() / q_train[:, None]
    phi_test = -torch.cat([p[1] for p in parts], 1).double() / q_test[:, None]
    return ((phi_test @ torch.linalg.pinv(phi_train)) * q_train[None, :]).T.float()


def seed_count_version_1(posteriors, signs, truth, classes, within_class_losses) -> pd.DataFrame:
    """The seed-count rows as the analysis made them before: every subset re-averaging its seeds' checkpoints, every
    test computing μ and σ again."""
    loo = PreparedTarget.of(signs.get(truth, 1) * posteriors[truth].values.mean(axis=(0, 1)), classes=classes)
    lds = (within_class_losses.subsets.astype(np.float64), PreparedTarget.of(-within_class_losses.losses.mean(axis=0)))
    n_seeds = len(next(iter(posteriors.values())).seeds)
    rows = []
    for size in [s for s in seed_count.SEED_COUNTS if s < n_seeds] + [n_seeds]:
        for seeds in seed_count.seed_subsets(n_seeds, size):
            for method, scores in posteriors.items():
                for k in range(1, scores.num_checkpoints + 1):
                    samples = scores.last_k_mean(k)[list(seeds)]
                    row = {f"fraction_p_below_0.05_{t.key}": float(t.passing(samples).mean()) for t in TESTS}
                    mean = signs.get(method, 1) * scores.values[list(seeds), -k:].mean(axis=(0, 1))
                    row["loo_corr_within_class_mean"] = float(np.nanmean(loo.correlate(mean)))
                    row["lds_within_class_mean"] = float(np.nanmean(lds[1].correlate(lds[0] @ mean)))
                    rows.append(row)
    return pd.DataFrame(rows)


def seed_count_pair(experiment):
    """(new, old) seed-count computations on six methods' real scores, or None where they are not made yet."""
    methods = ["loo_corrected", "ats", "if_converged", "gd", "ekfac", "random"]
    try:
        posteriors = load_all(experiment, methods)
        within = lds_losses_for(experiment).stratified
    except BayesTDAError as error:
        print(f"seed-count table left out: {error}")
        return None
    if within is None:
        print("seed-count table left out: no current class-stratified LDS models")
        return None
    roles, classes = builtin_roles(methods), experiment_classes(experiment)
    columns = [f"fraction_p_below_0.05_{t.key}" for t in TESTS] + ["loo_corr_within_class_mean",
                                                                    "lds_within_class_mean"]

    def rows_new():
        frame = seed_count.seed_count_rows(posteriors, roles.signs, roles.truth, classes, within)
        return torch.tensor(frame[columns].to_numpy())

    def rows_old():
        return torch.tensor(seed_count_version_1(posteriors, roles.signs, roles.truth, classes, within)[columns].to_numpy())

    return rows_new, rows_old


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def difference(new: torch.Tensor, old: torch.Tensor) -> float:
    return float((new.double() - old.double()).abs().max() / old.double().abs().max())


def main() -> None:
    torch.set_num_threads(1)
    experiment = Experiment.parse("cnn_mnist3_10pc")
    ctx = make_context(experiment, SEED, EPOCH)
    ctx.train_gradients(), ctx.test_gradients(), ctx.test_losses()
    exact = ctx.at_dtype(torch.float64)
    begun = seed_start(experiment, SEED)
    models = [train_on_subset(experiment, SEED, mask.nonzero().squeeze(1), begun=begun)
              for mask in draw_subsets(len(begun.train), 20)]
    begun.net.eval()
    measurement = experiment.family.measurement

    def gauss_newton_version_2():
        with mock.patch.object(influence.layer_grads, "supports", lambda *args: False):
            return influence.gauss_newton_rows(exact)

    pairs = {
        "trak (s per checkpoint, P already drawn)": (lambda: trak(ctx), lambda: trak_version_1(ctx)),
        "LDS evaluation (s for 20 models x 900 items)": (
            lambda: losses_of_models(begun.net, models, begun.test.x, begun.test.y, loss=measurement),
            lambda: torch.stack([per_sample_losses(begun.net, p, begun.test.x, begun.test.y, loss=measurement)
                                 for p in models])),
        "Gauss-Newton rows (s per checkpoint, float64)": (lambda: influence.gauss_newton_rows(exact),
                                                          gauss_newton_version_2),
    }
    seed_counts = seed_count_pair(experiment)
    if seed_counts is not None:
        pairs["seed-count table (s, 6 methods x 10 seeds x 5 checkpoints)"] = seed_counts
    trak(ctx)  # draws the projection once, as the first checkpoint of a process does
    report = {}
    for name, (new, old) in pairs.items():
        times = {"new": [], "old": []}
        for _ in range(ROUNDS):
            for label, fn in (("old", old), ("new", new)):
                seconds, value = timed(fn)
                times[label].append(seconds)
                if label == "old":
                    reference = value
                else:
                    result = value
        new_s, old_s = statistics.median(times["new"]), statistics.median(times["old"])
        report[name] = {"new_s": round(new_s, 3), "old_s": round(old_s, 3), "old_over_new": round(old_s / new_s, 2),
                        "max_difference_over_scale": difference(result, reference)}
        print(f"{name}: old {old_s:.3f} s, new {new_s:.3f} s ({old_s / new_s:.2f}x), "
              f"difference {report[name]['max_difference_over_scale']:.1e}")
    out = Path(__file__).with_name("bench_reproduce_parts.json")
    out.write_text(json.dumps({"seed": SEED, "checkpoint": EPOCH, "rounds": ROUNDS, "threads": 1, **report}, indent=2))


if __name__ == "__main__":
    main()
