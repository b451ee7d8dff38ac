"""ViT TracInCP terms (learning rate x Grad-Dot over the trainable parameters)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bayestda.cli import run, run_tda_script  # noqa: E402

PRODUCES = ("tracin",)


def main(argv: list[str] | None = None) -> int:
    return run_tda_script(__doc__, PRODUCES, argv, family="vit")


if __name__ == "__main__":
    run(main)
