"""Every method for one ViT seed (LOO, ATS, IF, Grad-Dot, Grad-Cos, TracIn and the corrected variants)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bayestda.attribution import METHODS  # noqa: E402
from bayestda.cli import run, run_tda_script  # noqa: E402

PRODUCES = METHODS


def main(argv: list[str] | None = None) -> int:
    return run_tda_script(__doc__, PRODUCES, argv, family="vit")


if __name__ == "__main__":
    run(main)
