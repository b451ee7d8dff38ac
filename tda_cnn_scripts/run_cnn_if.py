"""Second IF stage: influence scores from the stored inverse-HVP vectors (run run_cnn_s_test.py first).

Writes `if` and `if_converged` scores (plus the converged solve's residuals); the vectors are deleted
afterwards unless --keep-inverse-hvp.
"""

from bayestda.cli.scripts import run, run_if_script


def main(argv: list[str] | None = None) -> int:
    return run_if_script(__doc__, argv, family="cnn")


if __name__ == "__main__":
    run(main)
