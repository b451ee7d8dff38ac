"""Train the paper's CNN ensembles: every task, size and seed by default; flags narrow the grid.

Checkpoints: models/<arch>/<task>_<N>pc/<seed>/ckpt_epoch_<e>.pth for the last five epochs, plus
metrics.json (train loss per epoch, test accuracy and loss per checkpoint).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tqdm import tqdm  # noqa: E402

from bayestda.cli import add_experiment_flags, run  # noqa: E402
from bayestda.ensemble import train_seed  # noqa: E402
from bayestda.experiment import check_seed_id, experiments_for, load_seeds  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_experiment_flags(parser, all_by_default=True)
    args = parser.parse_args(argv)
    experiments = experiments_for(args.arch, args.task, args.num_per_class)
    seeds = [check_seed_id(args.seed_id)] if args.seed_id is not None else load_seeds()
    jobs = [(e, s) for e in experiments for s in seeds]
    with tqdm(total=sum(e.epochs for e, _ in jobs), desc="training epochs", unit="epoch") as bar:
        for experiment, seed in jobs:
            bar.set_postfix_str(f"{experiment.name} seed {seed}")
            train_seed(experiment, seed, overwrite=args.overwrite, progress=bar)
    return 0


if __name__ == "__main__":
    run(main)
