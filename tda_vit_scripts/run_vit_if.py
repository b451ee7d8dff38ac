"""ViT, second IF stage: influence scores from the stored inverse-HVP vectors (run run_vit_s_test.py first)."""

from bayestda.cli.scripts import run, run_if_script


def main(argv: list[str] | None = None) -> int:
    return run_if_script(__doc__, argv, family="vit")


if __name__ == "__main__":
    run(main)
