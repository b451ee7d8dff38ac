"""Correlations between methods of μ, σ and μ/σ, noise decomposition, heatmaps and summary.md.

    python run_correlation_analysis.py --experiment cnn_mnist3_10pc
    python run_correlation_analysis.py --scores-dir DIR --out OUT     # DIR/<method>/<seed>/attribution_ckpt_<e>.csv
"""

from bayestda.cli.analysis import run_analysis_script
from bayestda.cli.scripts import run


def main(argv: list[str] | None = None) -> int:
    return run_analysis_script(__doc__, argv, "correlations")


if __name__ == "__main__":
    run(main)
