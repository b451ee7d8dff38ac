"""The main job: data, training, all TDA methods for all 10 seeds, p-values, correlations and summary.

`python run_reproduce.py --experiment cnn_mnist3_10pc` (what `make reproduce` runs). Every stage skips
finished outputs, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tqdm import tqdm  # noqa: E402

from bayestda.analysis import run_correlations, run_pvalues  # noqa: E402
from bayestda.attribution import METHODS  # noqa: E402
from bayestda.cli import run  # noqa: E402
from bayestda.data import generate_subsets, subset_path  # noqa: E402
from bayestda.ensemble import train_seed  # noqa: E402
from bayestda.experiment import Experiment, load_seeds  # noqa: E402
from bayestda.pipeline import check_methods, run_scores  # noqa: E402

log = logging.getLogger("run_reproduce")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--experiment", default="cnn_mnist3_10pc")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    experiment = Experiment.parse(args.experiment)
    methods = check_methods(args.methods.split(","))
    seeds = load_seeds()
    times = {}
    start = time.perf_counter()
    if not subset_path(experiment.task, "train", experiment.num_per_class).exists():
        generate_subsets(experiment.task, [experiment.num_per_class])
    with tqdm(total=len(seeds) * experiment.epochs, desc=f"{experiment.name} training", unit="epoch") as bar:
        for seed in seeds:
            train_seed(experiment, seed, progress=bar)
    times["training"] = time.perf_counter() - start
    for seed in tqdm(seeds, desc=f"{experiment.name} TDA scores", unit="seed"):
        run_scores(experiment, seed, methods, device=args.device)
    times["tda"] = time.perf_counter() - start - times["training"]
    run_pvalues(experiment, methods)
    run_correlations(experiment, methods)
    times["analysis"] = time.perf_counter() - start - times["training"] - times["tda"]
    log.info("done in %.0f s (%s); results in %s", time.perf_counter() - start,
             ", ".join(f"{k} {v:.0f} s" for k, v in times.items()), experiment.results_dir())
    print((experiment.results_dir() / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    run(main)
