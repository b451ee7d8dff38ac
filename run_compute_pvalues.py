"""p-values of every method's scores across posterior samples (10 seeds x last K checkpoints, K = 1..5).

Writes results/<experiment>/pvalues_<method>_across_<K>_ckpts.csv, mean_p_values.csv, significance.csv.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bayestda.analysis import run_pvalues  # noqa: E402
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
        table = run_pvalues(Experiment.parse(name), methods)
        print(table[(table["K"] == 5)].to_string(index=False))
    return 0


if __name__ == "__main__":
    run(main)
