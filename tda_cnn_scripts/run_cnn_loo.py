"""Leave-one-out (LOO) scores, the paper's and the corrected baseline, for one seed's checkpoints."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bayestda.cli import run, run_loo_script  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    return run_loo_script(__doc__, argv, family="cnn")


if __name__ == "__main__":
    run(main)
