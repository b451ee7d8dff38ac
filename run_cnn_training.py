"""Train the paper's CNN ensembles: every task, size and seed by default; flags narrow the grid.

Checkpoints: models/<arch>/<task>_<N>pc/<seed>/ckpt_epoch_<e>.pth for the last five epochs, plus
metrics.json (train loss per epoch, test accuracy and loss per checkpoint).
"""

from bayestda.cli.scripts import run, run_training_script


def main(argv: list[str] | None = None) -> int:
    return run_training_script(__doc__, argv, family="cnn", device_default="cpu")


if __name__ == "__main__":
    run(main)
