"""Second IF stage: influence scores from the stored inverse-HVP vectors (run run_cnn_s_test.py first).

Writes `if` and `if_converged` scores (plus the converged solve's residuals); the vectors are deleted
afterwards unless --keep-inverse-hvp.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bayestda.cli import run, run_if_script  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    return run_if_script(__doc__, argv, family="cnn")


if __name__ == "__main__":
    run(main)
