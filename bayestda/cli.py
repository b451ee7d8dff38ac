"""Shared command-line pieces: the paper's flags, logging, and one-line errors."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from .errors import BayesTDAError


def add_experiment_flags(parser: argparse.ArgumentParser, all_by_default: bool = False) -> None:
    """--task / --num_per_class / --seed_id / --arch, as the paper's scripts take them."""
    default_task, default_n, default_seed = (None, None, None) if all_by_default else ("mnist3", 10, 0)
    parser.add_argument("--task", default=default_task, help="mnist3, cifar10 or mnist (appendix)")
    parser.add_argument("--num_per_class", type=int, default=default_n, help="train items per class")
    parser.add_argument("--seed_id", type=int, default=default_seed, help="which of the 10 seeds (0..9)")
    parser.add_argument("--arch", default="cnn", help="cnn (2-layer, the paper's) or cnn3 (3-layer)")
    parser.add_argument("--overwrite", action="store_true", help="recompute outputs that already exist")


def add_tda_flags(parser: argparse.ArgumentParser) -> None:
    """The per-seed TDA script flags: experiment, checkpoints, strategy, device."""
    add_experiment_flags(parser)
    parser.add_argument("--ckpts", type=int, nargs="+", help="checkpoint epochs to process (default: the last five)")
    parser.add_argument("--strategy", default="auto", help="many-model trainer: auto, loop (CPU) or stacked (GPU)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")


def tda_job(args: argparse.Namespace):
    """(experiment, seed) named by the per-seed flags, validated."""
    from .experiment import Experiment, check_seed_id

    return Experiment(args.arch, args.task, args.num_per_class), check_seed_id(args.seed_id)


def run_tda_script(description: str, methods, argv: list[str] | None = None) -> int:
    """The body of every per-seed TDA script: parse the flags, then compute and write `methods`."""
    from .pipeline import run_scores

    parser = argparse.ArgumentParser(description=description)
    add_tda_flags(parser)
    args = parser.parse_args(argv)
    experiment, seed = tda_job(args)
    run_scores(experiment, seed, methods, args.ckpts, overwrite=args.overwrite, strategy=args.strategy, device=args.device)
    return 0


def analysis_jobs(description: str, argv: list[str] | None = None):
    """(experiments, methods) from the analysis scripts' --experiment (repeatable) and --methods flags."""
    from .attribution import METHODS
    from .experiment import Experiment
    from .pipeline import check_methods

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--experiment", action="append", default=None, help="e.g. cnn_mnist3_10pc (repeatable)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    args = parser.parse_args(argv)
    experiments = [Experiment.parse(name) for name in args.experiment or ["cnn_mnist3_10pc"]]
    return experiments, check_methods(args.methods.split(","))


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def run(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run a script's main; a BayesTDAError becomes one line on stderr and exit status 2."""
    setup_logging()
    try:
        code = main(argv)
    except BayesTDAError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    sys.exit(code or 0)
