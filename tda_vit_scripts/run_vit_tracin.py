"""ViT TracInCP terms (learning rate x Grad-Dot over the trainable parameters)."""

from bayestda.cli.scripts import run, run_tda_script


def main(argv: list[str] | None = None) -> int:
    return run_tda_script(__doc__, "tracin", argv, family="vit")


if __name__ == "__main__":
    run(main)
