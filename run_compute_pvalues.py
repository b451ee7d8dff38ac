"""p-values of every method's scores across posterior samples (10 seeds x last K checkpoints, K = 1..5).

Writes results/<experiment>/pvalues_<method>_across_<K>_ckpts.csv, mean_p_values.csv, significance.csv.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bayestda.analysis import run_pvalues  # noqa: E402
from bayestda.cli import analysis_jobs, run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    experiments, methods, seeds = analysis_jobs(__doc__, argv)
    for experiment in experiments:
        table = run_pvalues(experiment, methods, seeds)
        print(table[(table["K"] == 5)].to_string(index=False))
    return 0


if __name__ == "__main__":
    run(main)
