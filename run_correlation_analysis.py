"""Correlations between methods of μ, σ and μ/σ (K = 5), noise decomposition, heatmaps and summary.md."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bayestda.analysis import run_correlations  # noqa: E402
from bayestda.cli import analysis_jobs, run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    experiments, methods, seeds = analysis_jobs(__doc__, argv)
    for experiment in experiments:
        run_correlations(experiment, methods, seeds)
        print(f"wrote {experiment.results_dir() / 'summary.md'}")
    return 0


if __name__ == "__main__":
    run(main)
