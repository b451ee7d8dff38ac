"""TracInCP terms (learning rate x Grad-Dot) for one seed's checkpoints."""

from bayestda.cli.scripts import run, run_tda_script


def main(argv: list[str] | None = None) -> int:
    return run_tda_script(__doc__, "tracin", argv, family="cnn")


if __name__ == "__main__":
    run(main)
