"""p-values of every method's scores across posterior samples (seeds x last K checkpoints, K = 1..checkpoints).

    python run_compute_pvalues.py --experiment cnn_mnist3_10pc
    python run_compute_pvalues.py --scores-dir DIR --out OUT     # DIR/<method>/<seed>/attribution_ckpt_<e>.csv

Writes pvalues_<method>_across_<K>_ckpts.csv, mean_p_values.csv and significance.csv to results/<experiment>/
(or OUT).
"""

from bayestda.cli.analysis import run_analysis_script
from bayestda.cli.scripts import run


def main(argv: list[str] | None = None) -> int:
    return run_analysis_script(__doc__, argv, "pvalues")


if __name__ == "__main__":
    run(main)
