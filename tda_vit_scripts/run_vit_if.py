"""ViT, second IF stage: influence scores from the stored inverse-HVP vectors (run run_vit_s_test.py first)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bayestda.cli import run, run_if_script  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    return run_if_script(__doc__, argv, family="vit")


if __name__ == "__main__":
    run(main)
