"""ViT leave-one-out: `loo` and `loo_corrected` continue from the checkpoint (as the CNN's);
--from-pretrained gives the paper's ViT variant, re-fine-tuned from the backbone (`loo_pretrained`)."""

from bayestda.cli.scripts import run, run_tda_script


def main(argv: list[str] | None = None) -> int:
    return run_tda_script(__doc__, "loo", argv, family="vit")


if __name__ == "__main__":
    run(main)
