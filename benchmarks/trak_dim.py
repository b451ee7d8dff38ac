"""How TRAK's projection dimension k was chosen: agreement with the unprojected limit, LOO correlation, time.

For one checkpoint of a trained seed, TRAK at each k against k = ∞ (no projection: the same formula on the exact
gradient Gram matrices, Φ_test Φᵀ (ΦΦᵀ)⁻¹, which every k > n_train approaches as PᵀP -> I), and each one's LOO
correlation with that checkpoint's `loo_corrected` scores when they exist. Times are measured in this run.

    python benchmarks/trak_dim.py --experiment cnn_mnist3_10pc --seed_id 0 --ckpt 14
"""

from __future__ import annotations

import time

import numpy as np
import torch

from bayestda.analysis.metrics import spearman_per_column
from bayestda.attribution import TrakSettings, trak
from bayestda.attribution.trak import one_minus_p
from bayestda.cli.flags import Parser, experiment_name, non_negative_int, seed_id, trak_dims
from bayestda.experiments.experiment import Experiment, load_seeds
from bayestda.scores.files import load_array
from bayestda.scores.pipeline import make_context


def unprojected(ctx) -> torch.Tensor:
    """TRAK with P = identity: [n_train, n_test] from the loss-gradient Gram matrices, in float64."""
    q_train, q_test = one_minus_p(ctx)
    train = ctx.train_gradients()
    cross = ctx.gradient_products().double() / (q_train[:, None] * q_test[None, :])  # φ_i·φ(z) (the signs cancel)
    gram = train.gram(train).double() / (q_train[:, None] * q_train[None, :])
    return (torch.linalg.pinv(gram, hermitian=True) @ cross) * q_train[:, None]


def main(argv: list[str] | None = None) -> None:
    parser = Parser(description=__doc__)
    parser.add_argument("--experiment", type=experiment_name, default="cnn_mnist3_10pc")
    parser.add_argument("--seed_id", type=seed_id, default=0)
    parser.add_argument("--ckpt", type=non_negative_int, default=14)
    parser.add_argument("--dims", type=trak_dims, default=[32, 128, 512, 2048])
    args = parser.parse_args(argv)
    experiment = Experiment.parse(args.experiment)
    seed = load_seeds()[args.seed_id]
    ctx = make_context(experiment, seed, args.ckpt)
    start = time.perf_counter()
    exact = unprojected(ctx).numpy()
    seconds = time.perf_counter() - start
    try:
        loo = load_array(experiment.name, "loo_corrected", seed=seed, ckpt=args.ckpt)[0]
    except Exception:  # noqa: BLE001 (the LOO column is optional)
        loo = None
    print(f"{experiment.name} seed {seed} checkpoint {args.ckpt}: {len(ctx.train)} train, {len(ctx.test)} test items, "
          f"{ctx.view.numel} parameters; ∞ timed with the shared gradients, each k after them")
    print("| k | Spearman with k = ∞ (mean over test items) | LOO correlation | seconds (gradients shared) |")
    print("| --- | --- | --- | --- |")
    rows = [("∞", exact, seconds)]
    for dim in args.dims:
        start = time.perf_counter()
        scores = trak(ctx, TrakSettings(dim=dim)).double().numpy()
        rows.append((dim, scores, time.perf_counter() - start))
    for dim, scores, seconds in rows:
        agree = np.nanmean(spearman_per_column(scores, exact))
        loo_corr = "-" if loo is None else f"{np.nanmean(spearman_per_column(scores, np.asarray(loo))):.3f}"
        print(f"| {dim} | {agree:.3f} | {loo_corr} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
