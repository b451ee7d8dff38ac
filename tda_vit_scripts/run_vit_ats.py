"""ViT adding-the-sample (ATS): one fresh-Adam step of the LoRA and classifier weights per train item."""

from bayestda.cli.scripts import run, run_tda_script


def main(argv: list[str] | None = None) -> int:
    return run_tda_script(__doc__, "ats", argv, family="vit")


if __name__ == "__main__":
    run(main)
