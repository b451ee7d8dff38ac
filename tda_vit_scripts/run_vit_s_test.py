"""ViT, first IF stage: store the inverse-HVP vectors (`if`, `if_converged`) over the trainable parameters."""

from bayestda.cli.scripts import run, run_s_test_script


def main(argv: list[str] | None = None) -> int:
    return run_s_test_script(__doc__, argv, family="vit")


if __name__ == "__main__":
    run(main)
