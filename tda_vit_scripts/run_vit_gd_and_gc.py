"""ViT Grad-Dot and Grad-Cos over the trainable (LoRA and classifier) parameters."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bayestda.cli import run, run_tda_script  # noqa: E402

PRODUCES = ("gd", "gc")


def main(argv: list[str] | None = None) -> int:
    return run_tda_script(__doc__, PRODUCES, argv, family="vit")


if __name__ == "__main__":
    run(main)
