"""ViT Grad-Dot and Grad-Cos over the trainable (LoRA and classifier) parameters."""

from bayestda.cli.scripts import run, run_tda_script


def main(argv: list[str] | None = None) -> int:
    return run_tda_script(__doc__, "gd_and_gc", argv, family="vit")


if __name__ == "__main__":
    run(main)
