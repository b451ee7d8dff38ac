"""Every default method of the registry (LOO, ATS, IF, Grad-Dot, Grad-Cos, TracIn and the corrected variants), or the
--methods named (a method of your own included), for one seed, sharing each gradient."""

from bayestda.cli.scripts import run, run_tda_script


def main(argv: list[str] | None = None) -> int:
    return run_tda_script(__doc__, "all", argv, family="cnn")


if __name__ == "__main__":
    run(main)
