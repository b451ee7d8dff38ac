"""Shared command-line pieces: the paper's flags, logging, and one-line errors."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from .errors import BayesTDAError


def add_experiment_flags(parser: argparse.ArgumentParser, all_by_default: bool = False, family: str = "cnn") -> None:
    """--task / --num_per_class / --seed_id, and --arch (CNNs) or --vit-weights (ViTs), as the paper's scripts."""
    from .models.vit import PAPER_WEIGHTS

    default_task, default_n, default_seed = (None, None, None) if all_by_default else ("mnist3", 10, 0)
    parser.add_argument("--task", default=default_task, help="mnist3, cifar10 or mnist (appendix)")
    parser.add_argument("--num_per_class", type=int, default=default_n, help="train items per class")
    parser.add_argument("--seed_id", type=int, default=default_seed, help="which of the 10 seeds (0..9)")
    if family == "vit":
        parser.add_argument("--vit-weights", default=PAPER_WEIGHTS,
                            help="HuggingFace model id or local directory (default: the paper's); random-tiny or "
                                 "random-base for random backbones (experiments vittiny_... / vitrandom_...)")
    else:
        parser.add_argument("--arch", default="cnn", help="cnn (2-layer, the paper's) or cnn3 (3-layer)")
    parser.add_argument("--overwrite", action="store_true", help="recompute outputs that already exist")


def add_tda_flags(parser: argparse.ArgumentParser, family: str = "cnn") -> None:
    """The per-seed TDA script flags: experiment, checkpoints, strategy, device."""
    add_experiment_flags(parser, family=family)
    parser.add_argument("--ckpts", type=int, nargs="+", help="checkpoint epochs to process (default: the last five)")
    parser.add_argument("--strategy", default="auto", help="many-model trainer: auto, loop (CPU) or stacked (GPU)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--model-chunk", type=int, default=None,
                        help="train the LOO models in groups of this many (bounds GPU memory; default: all at once)")


def experiment_of(args: argparse.Namespace):
    """The Experiment named by --arch or --vit-weights and the task flags."""
    from .experiment import Experiment
    from .models.vit import model_name_for

    if getattr(args, "vit_weights", None):
        return Experiment(model_name_for(args.vit_weights), args.task, args.num_per_class, vit_weights=args.vit_weights)
    return Experiment(args.arch, args.task, args.num_per_class)


def tda_job(args: argparse.Namespace):
    """(experiment, seed) named by the per-seed flags, validated."""
    from .experiment import check_seed_id

    return experiment_of(args), check_seed_id(args.seed_id)


def run_tda_script(description: str, methods, argv: list[str] | None = None, family: str = "cnn") -> int:
    """The body of every per-seed TDA script (CNN or ViT): parse the flags, then compute and write `methods`."""
    from .pipeline import run_scores

    parser = argparse.ArgumentParser(description=description)
    add_tda_flags(parser, family)
    args = parser.parse_args(argv)
    experiment, seed = tda_job(args)
    run_scores(experiment, seed, methods, args.ckpts, overwrite=args.overwrite, strategy=args.strategy,
               device=args.device, model_chunk=args.model_chunk)
    return 0


def run_s_test_script(description: str, argv: list[str] | None = None, family: str = "cnn") -> int:
    """First IF stage (the paper's s_test scripts): store the inverse-HVP vectors of one seed's checkpoints."""
    from .pipeline import IF_METHODS, run_inverse_hvps

    parser = argparse.ArgumentParser(description=description)
    add_tda_flags(parser, family)
    args = parser.parse_args(argv)
    experiment, seed = tda_job(args)
    run_inverse_hvps(experiment, seed, IF_METHODS, args.ckpts, overwrite=args.overwrite, device=args.device)
    return 0


def run_if_script(description: str, argv: list[str] | None = None, family: str = "cnn") -> int:
    """Second IF stage: influence scores from the stored inverse-HVP vectors."""
    from .pipeline import IF_METHODS, run_scores

    parser = argparse.ArgumentParser(description=description)
    add_tda_flags(parser, family)
    parser.add_argument("--keep-inverse-hvp", action="store_true", help="keep the stored vectors after scoring")
    args = parser.parse_args(argv)
    experiment, seed = tda_job(args)
    run_scores(experiment, seed, IF_METHODS, args.ckpts, overwrite=args.overwrite, strategy=args.strategy,
               device=args.device, use_stored_inverse=True, keep_inverse=args.keep_inverse_hvp)
    return 0


def run_loo_script(description: str, argv: list[str] | None = None, family: str = "cnn") -> int:
    """LOO from the checkpoint (`loo`, `loo_corrected`); ViTs: --from-pretrained gives the paper's ViT LOO."""
    from .pipeline import run_scores

    parser = argparse.ArgumentParser(description=description)
    add_tda_flags(parser, family)
    if family == "vit":
        parser.add_argument("--from-pretrained", action="store_true",
                            help="the paper's ViT LOO: re-fine-tune every model from the backbone (method loo_pretrained)")
    args = parser.parse_args(argv)
    experiment, seed = tda_job(args)
    methods = ["loo_pretrained"] if getattr(args, "from_pretrained", False) else ["loo", "loo_corrected"]
    run_scores(experiment, seed, methods, args.ckpts, overwrite=args.overwrite, strategy=args.strategy,
               device=args.device, model_chunk=args.model_chunk)
    return 0


def analysis_jobs(description: str, argv: list[str] | None = None):
    """(experiments, methods, seeds) from the analysis scripts' --experiment (repeatable), --methods, --seed_ids."""
    from .attribution import METHODS
    from .experiment import Experiment, check_seed_id
    from .pipeline import check_methods

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--experiment", action="append", default=None, help="e.g. cnn_mnist3_10pc (repeatable)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    parser.add_argument("--seed_ids", default=None, help="comma-separated seed ids (default: all 10 seeds)")
    args = parser.parse_args(argv)
    experiments = [Experiment.parse(name) for name in args.experiment or ["cnn_mnist3_10pc"]]
    seeds = [check_seed_id(int(k)) for k in args.seed_ids.split(",")] if args.seed_ids else None
    return experiments, check_methods(args.methods.split(",")), seeds


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
