"""Correlations between methods of μ, σ and μ/σ (K = 5), noise decomposition, heatmaps and summary.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bayestda.analysis import run_correlations  # noqa: E402
from bayestda.attribution import METHODS  # noqa: E402
from bayestda.cli import run  # noqa: E402
from bayestda.experiment import Experiment  # noqa: E402
from bayestda.pipeline import check_methods  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--experiment", action="append", default=None, help="e.g. cnn_mnist3_10pc (repeatable)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    args = parser.parse_args(argv)
    methods = check_methods(args.methods.split(","))
    for name in args.experiment or ["cnn_mnist3_10pc"]:
        experiment = Experiment.parse(name)
        run_correlations(experiment, methods)
        print(f"wrote {experiment.results_dir() / 'summary.md'}")
    return 0


if __name__ == "__main__":
    run(main)
