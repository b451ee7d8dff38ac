"""Shared command-line pieces: the paper's flags, the per-seed script bodies, logging, and one-line errors.

Which flag names the model (`--arch` or `--vit-weights`) is the model family's (ModelFamily.model_flag); which
methods a script writes is the method registry's.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from tqdm import tqdm

from ..attribution import EKFACSettings, TrakSettings
from ..attribution.registry import all_methods, default_methods, get, script_methods
from ..core.errors import BadInput, BayesTDAError
from ..core.seeds import check_seed_id, load_seeds
from ..experiments.experiment import Experiment, experiments_for
from ..families import family_class_for_scripts, family_named, family_names
from ..models.vit import PAPER_WEIGHTS, model_name_for
from ..scores.pipeline import run_inverse_hvps, run_scores
from ..training.sampling import make_posterior
from .flags import Parser, UniqueInts, add_device_flag, add_method_setting_flags, add_strategy_flags, add_task_flags, method_list

VIT_WEIGHTS_HELP = ("HuggingFace model id or local directory (default: the paper's); mnist-pretrained for the small ViT "
                    "pretrained here on unused MNIST digits (experiments vitmnist_...); random-tiny or random-base for "
                    "random backbones (vittiny_... / vitrandom_...)")


def add_model_flags(parser: argparse.ArgumentParser, family: str) -> None:
    """The flag that names the model in a script family: --arch <name> (the CNNs, and any family named so), or
    --vit-weights <weights> (the LoRA ViTs: the weights pick the experiment's model name)."""
    style = family_class_for_scripts(family).model_flag
    if style == "--vit-weights":
        parser.add_argument("--vit-weights", default=PAPER_WEIGHTS, help=VIT_WEIGHTS_HELP)
        return
    names = [n for n in family_names() if family_named(n).scripts == family]
    parser.add_argument("--arch", default=names[0] if "cnn" not in names else "cnn", choices=names,
                        help=f"model: {', '.join(names)} (cnn: the paper's 2-layer CNN)")


def model_of(args: argparse.Namespace, family: str) -> tuple[str, str | None]:
    """(experiment model name, weight source) picked by the script family's model flag."""
    if family_class_for_scripts(family).model_flag == "--vit-weights":
        return model_name_for(args.vit_weights), args.vit_weights
    return args.arch, None


def add_experiment_flags(parser: argparse.ArgumentParser, all_by_default: bool = False, family: str = "cnn") -> None:
    """--task / --num_per_class / --seed_id and the script family's model flag, as the paper's scripts."""
    add_task_flags(parser, all_by_default)
    add_model_flags(parser, family)
    parser.add_argument("--overwrite", action="store_true", help="recompute outputs that already exist")


def add_tda_flags(parser: argparse.ArgumentParser, family: str = "cnn") -> None:
    """The per-seed TDA script flags: experiment, checkpoints, strategy, device."""
    add_experiment_flags(parser, family=family)
    parser.add_argument("--ckpts", type=int, nargs="+", action=UniqueInts,
                        help="checkpoint epochs to process (default: the last five)")
    add_strategy_flags(parser)
    add_device_flag(parser)


def tda_job(args: argparse.Namespace, family: str):
    """(experiment, seed) named by the per-seed flags, validated with the checkpoints they name."""
    model, weights = model_of(args, family)
    experiment = Experiment(model, args.task, args.num_per_class, vit_weights=weights, subset_seed=args.subset_seed,
                            sampler=args.sampler)
    experiment = experiment if experiment.draws_samples else experiment.base  # a view scores the paper's checkpoints
    if getattr(args, "ckpts", None):
        experiment.check_checkpoint_epochs(args.ckpts)
    return experiment, check_seed_id(args.seed_id)


def method_settings(args: argparse.Namespace, methods: list[str]) -> dict:
    """{method: settings} from the method-setting flags (--trak-dim, --ekfac-damping), for methods computed."""
    settings = {}
    if getattr(args, "trak_dim", None) is not None:
        settings["trak"] = TrakSettings(dim=args.trak_dim)
    if getattr(args, "ekfac_damping", None) is not None:
        settings["ekfac"] = EKFACSettings(damping=args.ekfac_damping)
    if getattr(args, "bif_settings", None) is not None:
        settings["bif"] = args.bif_settings
    for name, flag in (("trak", "--trak-dim"), ("ekfac", "--ekfac-damping"), ("bif", "--bif-settings")):
        if name in settings and name not in methods:
            raise BadInput(f"{flag} sets {name}, which is not among the methods computed ({', '.join(methods)}); "
                           f"add it: --methods {','.join([*methods, name])}")
    return settings


def _flag_dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


PHANTOMS_HELP = ("also score the phantom items (held-out images, as many as the train items, never trained on) as if they "
                 "were train items: phantom_ckpt_<e>.csv beside each score file (the analysis' false-trust null)")


def run_tda_script(description: str, script: str, argv: list[str] | None = None, family: str = "cnn") -> int:
    """The body of every per-seed scoring script: parse the flags, then compute and write the script's methods.

    `script` is the registry's script name (`gd_and_gc`, `loo`, ...); `all` takes --methods (default: every
    default method); a registered script flag (`--from-pretrained`) switches to the methods declared with it.
    """
    parser = Parser(description=description)
    add_tda_flags(parser, family)
    flags = sorted({f for name in all_methods() for f in get(name).script_flags if get(name).script == script})
    for flag in flags:
        methods = ", ".join(script_methods(script, (flag,)))
        parser.add_argument(flag, action="store_true", help=f"compute {methods} instead")
    parser.add_argument("--phantoms", action="store_true", help=PHANTOMS_HELP)
    if script == "all":
        parser.add_argument("--methods", type=method_list, default=None,
                            help="comma-separated methods (default: every default method)")
        add_method_setting_flags(parser)
    args = parser.parse_args(argv)
    experiment, seed = tda_job(args, family)
    if script == "all":
        methods = args.methods or default_methods()
    else:
        chosen = tuple(f for f in flags if getattr(args, _flag_dest(f)))
        methods = script_methods(script, chosen)
    whole = [m for m in methods if get(m).whole_posterior]
    if whole:
        raise BadInput(f"{whole[0]} has one score per pair from every posterior sample, made in the analysis: name it "
                       f"there (run_correlation_analysis.py --experiment {experiment.name} --methods ...,{whole[0]}); "
                       "no per-seed script scores it")
    settings = method_settings(args, methods)
    run_scores(experiment, seed, methods, args.ckpts, overwrite=args.overwrite, strategy=args.strategy,
               device=args.device, model_chunk=args.model_chunk, settings=settings, phantoms=args.phantoms)
    return 0


def run_s_test_script(description: str, argv: list[str] | None = None, family: str = "cnn") -> int:
    """First IF stage (the paper's s_test scripts): store the inverse-HVP vectors of one seed's checkpoints."""
    parser = Parser(description=description)
    add_tda_flags(parser, family)
    args = parser.parse_args(argv)
    experiment, seed = tda_job(args, family)
    run_inverse_hvps(experiment, seed, script_methods("if"), args.ckpts, overwrite=args.overwrite, device=args.device)
    return 0


def run_if_script(description: str, argv: list[str] | None = None, family: str = "cnn") -> int:
    """Second IF stage: influence scores from the stored inverse-HVP vectors."""
    parser = Parser(description=description)
    add_tda_flags(parser, family)
    parser.add_argument("--keep-inverse-hvp", action="store_true", help="keep the stored vectors after scoring")
    parser.add_argument("--phantoms", action="store_true", help=PHANTOMS_HELP)
    args = parser.parse_args(argv)
    experiment, seed = tda_job(args, family)
    run_scores(experiment, seed, script_methods("if"), args.ckpts, overwrite=args.overwrite, strategy=args.strategy,
               device=args.device, use_stored_inverse=True, keep_inverse=args.keep_inverse_hvp, phantoms=args.phantoms)
    return 0


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


def run_training_script(description: str, argv: list[str] | None = None, family: str = "cnn",
                        device_default: str = "cpu") -> int:
    """The training scripts' body: every task, size and seed by default, narrowed by the flags; the model family's
    trainer trains."""
    parser = Parser(description=description)
    add_experiment_flags(parser, all_by_default=True, family=family)
    add_device_flag(parser, device_default)
    parser.add_argument("--sampler-settings", default=None, metavar="KEY=VALUE,...",
                        help="a drawing sampler's settings, e.g. step=1e-6,temperature=1 (docs/samplers.md); recorded "
                             "with every sample")
    args = parser.parse_args(argv)
    model, weights = model_of(args, family)
    experiments = experiments_for(model, args.task, args.num_per_class, weights, args.subset_seed, args.sampler)
    sampler = experiments[0].posterior_sampler.with_settings(args.sampler_settings)  # checked before any work
    if args.sampler_settings and not sampler.draws:
        raise BadInput(f"--sampler-settings applies to a drawing sampler (swag, sgld, laplace); {sampler.name!r} "
                       "draws nothing")
    seeds = [check_seed_id(args.seed_id)] if args.seed_id is not None else load_seeds()
    jobs = [(e, s) for e in experiments for s in seeds]
    with tqdm(total=sum(e.epochs for e, _ in jobs), desc="training epochs", unit="epoch") as bar:
        for experiment, seed in jobs:
            bar.set_postfix_str(f"{experiment.name} seed {seed}")
            make_posterior(experiment, seed, sampler, overwrite=args.overwrite, device=args.device, progress=bar)
    return 0
