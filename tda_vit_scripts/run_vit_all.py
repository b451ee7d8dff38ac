"""Every method for one ViT seed (LOO, ATS, IF, Grad-Dot, Grad-Cos, TracIn and the corrected variants)."""

from bayestda.cli.scripts import run, run_tda_script


def main(argv: list[str] | None = None) -> int:
    return run_tda_script(__doc__, "all", argv, family="vit")


if __name__ == "__main__":
    run(main)
