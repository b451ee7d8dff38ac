"""First IF stage, as in the paper: compute and store the inverse-HVP vectors of one seed's checkpoints.

Stores, per checkpoint, the paper's one-pass LiSSA vectors (`if`) and the exact damped Gauss-Newton
vectors (`if_converged`), on the side with fewer items (train: 30 vectors for mnist3_10pc instead of 900).
"""

from bayestda.cli.scripts import run, run_s_test_script


def main(argv: list[str] | None = None) -> int:
    return run_s_test_script(__doc__, argv, family="cnn")


if __name__ == "__main__":
    run(main)
