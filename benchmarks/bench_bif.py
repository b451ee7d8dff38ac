"""The Bayesian influence function's cost against ekfac and if_converged, in the same run, on the same checkpoint.

cnn_mnist3_10pc, seed 446, checkpoint 14, all 30 train and 900 test items. Each method is timed on a fresh context
(its shared gradients counted), the three alternating for --rounds rounds (this VM's speed drifts: alternation
pairs them), and reported as seconds per checkpoint and as bif's ratio to each. Needs the seed's checkpoints
(`make bench` trains them).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import torch

from bayestda.attribution import get
from bayestda.cli.flags import Parser, positive_int
from bayestda.cli.scripts import run
from bayestda.experiments.experiment import Experiment
from bayestda.scores.pipeline import compute, make_context

METHODS = ("bif", "ekfac", "if_converged")


def seconds(experiment: Experiment, method: str) -> float:
    """Wall seconds of one method at seed 446's last checkpoint, from a fresh context."""
    ctx = make_context(experiment, 446, experiment.checkpoint_epochs[-1])
    start = time.perf_counter()
    compute(ctx, [get(method)])
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__)
    parser.add_argument("--rounds", type=positive_int, default=3)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("bench_bif.json"))
    args = parser.parse_args(argv)
    experiment = Experiment.parse("cnn_mnist3_10pc")
    times: dict[str, list[float]] = {m: [] for m in METHODS}
    for _ in range(args.rounds):
        for method in METHODS:
            times[method].append(seconds(experiment, method))
    median = {m: statistics.median(v) for m, v in times.items()}
    rows = {"threads": torch.get_num_threads(), "seconds": times, "median_s": median,
            "bif_over_ekfac": median["bif"] / median["ekfac"], "bif_over_if_converged": median["bif"] / median["if_converged"]}
    args.output.write_text(json.dumps(rows, indent=2) + "\n")
    for method in METHODS:
        print(f"{method:<14} {median[method]:6.2f} s per checkpoint (median of {args.rounds})")
    print(f"bif / ekfac {rows['bif_over_ekfac']:.2f}, bif / if_converged {rows['bif_over_if_converged']:.2f}")
    return 0


if __name__ == "__main__":
    run(main)
