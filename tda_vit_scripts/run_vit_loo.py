"""ViT leave-one-out: `loo` and `loo_corrected` continue from the checkpoint (as the CNN's);
--from-pretrained gives the paper's ViT variant, re-fine-tuned from the backbone (`loo_pretrained`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bayestda.cli import run, run_loo_script  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    return run_loo_script(__doc__, argv, family="vit")


if __name__ == "__main__":
    run(main)
