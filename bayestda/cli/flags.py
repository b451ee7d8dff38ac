"""The flags every script shares, checked when the command line is parsed: one parser, one type per kind of value.

A bad value stops the script with one line `error: argument --flag: <value> ...; allowed: ...` and exit status 2,
before anything is read or written. List flags refuse repeated seeds and GPUs (counting a seed twice would fake
a posterior sample; the same GPU twice is not clearly meant) and drop repeated checkpoints, methods and
experiments with a one-line warning (computing a thing twice means the same as once). docs/faults.md lists them.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Callable

from ..attribution.bif import BifSettings
from ..attribution.ekfac import DAMPING_RANGE
from ..attribution.registry import check_methods
from ..attribution.trak import MAX_DIM, MIN_DIM
from ..core.device import device_problem
from ..core.errors import BayesTDAError
from ..core.settings import with_text
from ..experiments.experiment import TASKS, Experiment, load_seeds
from ..numerics.many_models import STRATEGIES
from ..samplers import DEFAULT_SAMPLER, all_samplers, check_sampler
from ..training.lds import MAX_MODELS, MAX_SUBSETS, TARGETS

log = logging.getLogger("bayestda")



class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (`error: ...`, exit 2) and deprecated flag spellings that still work."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self._renamed: dict[str, str] = {}

    def error(self, message: str):  # noqa: D102 (argparse's hook)
        print(f"error: {message.splitlines()[0]}", file=sys.stderr)
        sys.exit(2)

    def add_renamed(self, old: str, new: str) -> None:
        """Accept `old` as a deprecated spelling of the flag `new` (one warning line when used)."""
        self._renamed[old] = new

    def parse_args(self, args=None, namespace=None):  # noqa: D102
        argv = list(sys.argv[1:] if args is None else args)
        for i, word in enumerate(argv):
            flag, eq, value = word.partition("=")
            if flag in self._renamed:
                log.warning("%s is deprecated; use %s", flag, self._renamed[flag])
                argv[i] = self._renamed[flag] + eq + value
        return super().parse_args(argv, namespace)


# --- value types: each returns the parsed value or raises ArgumentTypeError naming the value and what is allowed ---
def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def int_range(low: int, high: int | None = None, what: str = "") -> Callable[[str], int]:
    """An integer type allowing low..high (high None: no upper bound)."""

    def parse(text: str) -> int:
        value = _integer(text)
        if value < low or (high is not None and value > high):
            allowed = f"{low}..{high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"{value} is out of range{what}; allowed: {allowed}")
        return value

    parse.__name__ = "integer"
    return parse


positive_int = int_range(1)
non_negative_int = int_range(0)


def float_range(low: float, high: float, what: str = "") -> Callable[[str], float]:
    """A finite float type allowing low..high."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is out of range{what}; allowed: {low:g}..{high:g}")
        return value

    parse.__name__ = "number"
    return parse


def float_list(low: float, high: float) -> Callable[[str], list[float]]:
    """Comma-separated numbers, each low..high, repeated ones refused."""

    def parse(text: str) -> list[float]:
        return unique([float_range(low, high)(item) for item in _items(text)], "value", refuse=True)

    parse.__name__ = "list of numbers"
    return parse


def int_list(low: int, high: int | None = None) -> Callable[[str], list[int]]:
    """Comma-separated integers, each low..high, repeated ones refused."""

    def parse(text: str) -> list[int]:
        return unique([int_range(low, high)(item) for item in _items(text)], "value", refuse=True)

    parse.__name__ = "list of integers"
    return parse


def _items(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise argparse.ArgumentTypeError(f"{text!r} has an empty item; give comma-separated values, e.g. a,b")
    return items


def unique(values: list, what: str, refuse: bool) -> list:
    """The values without repeats: refused (an error naming the repeat) or dropped with a one-line warning."""
    seen: list = []
    for value in values:
        if value in seen:
            if refuse:
                raise argparse.ArgumentTypeError(f"{what} {value} is given twice; each may appear once")
            log.warning("%s %s is given twice; using it once", what, value)
            continue
        seen.append(value)
    return seen


def seed_id(text: str) -> int:
    """One of the paper's seeds by its position 0..9 (random_seeds.pt)."""
    return int_range(0, len(load_seeds()) - 1)(text)


def seed_id_list(text: str) -> list[int]:
    """Comma-separated seed ids 0..9, each once (a repeated seed would count one posterior sample twice)."""
    return unique([seed_id(item) for item in _items(text)], "seed id", refuse=True)


def analysis_seed_ids(text: str) -> list[int]:
    """Seed ids for the posterior test: at least two (one seed has no spread to test against)."""
    ids = seed_id_list(text)
    if len(ids) < 2:
        raise argparse.ArgumentTypeError(f"{text} is one seed; the posterior test needs at least 2 seeds, e.g. 0,1")
    return ids


def method_name_list(text: str) -> list[str]:
    """Comma-separated method names (a registered method or a --scores-dir folder), repeats dropped."""
    return unique(_items(text), "method", refuse=False)


def method_list(text: str) -> list[str]:
    """Comma-separated registered methods, repeats dropped."""
    names = method_name_list(text)
    try:
        return check_methods(names)
    except BayesTDAError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def experiment_name(text: str) -> str:
    """An experiment name `<model>_<task>_<n>pc` whose model, task and size exist."""
    try:
        return Experiment.parse(text.strip()).name
    except BayesTDAError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def experiment_list(text: str) -> list[str]:
    """Comma-separated experiment names, repeats dropped."""
    return unique([experiment_name(item) for item in _items(text)], "experiment", refuse=False)


def trak_dims(text: str) -> list[int]:
    """Comma-separated TRAK projection dimensions, repeats dropped."""
    return unique([int_range(MIN_DIM, MAX_DIM)(item) for item in _items(text)], "dimension", refuse=False)


def gpu_list(text: str) -> list[str]:
    """Comma-separated GPU indices, each once."""
    return [str(g) for g in unique([non_negative_int(item) for item in _items(text)], "GPU", refuse=True)]


def device(text: str) -> str:
    """A torch device that exists here: cpu, cuda, cuda:N (with a visible GPU), mps."""
    why = device_problem(text)
    if why is not None:
        raise argparse.ArgumentTypeError(why)
    return text


def sign_map(text: str) -> dict[str, int]:
    """METHOD=SIGN pairs, comma-separated; SIGN is +1 (positive = helpful) or -1 (negative = helpful)."""
    out: dict[str, int] = {}
    for item in _items(text):
        name, eq, sign = item.partition("=")
        if not eq or sign.strip() not in ("1", "+1", "-1", "+", "-"):
            raise argparse.ArgumentTypeError(f"{item!r} is not METHOD=SIGN; allowed signs: +1, -1 (e.g. if=-1)")
        if name in out:
            raise argparse.ArgumentTypeError(f"method {name} is given two signs; each may appear once")
        out[name.strip()] = -1 if sign.strip().startswith("-") else 1
    return out


class UniqueInts(argparse.Action):
    """nargs='+' integers, repeats dropped with a one-line warning (checkpoints)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, unique(list(values), option_string or self.dest, refuse=False))


# --- the shared flags ------------------------------------------------------------------------------------------
def add_task_flags(parser: argparse.ArgumentParser, all_by_default: bool = False) -> None:
    """The paper's --task / --num_per_class / --seed_id (one seed, by position in random_seeds.pt)."""
    default_task, default_n, default_seed = (None, None, None) if all_by_default else ("mnist3", 10, 0)
    parser.add_argument("--task", default=default_task, choices=tuple(TASKS), help="mnist3, cifar10 or mnist (appendix)")
    parser.add_argument("--num_per_class", type=positive_int, default=default_n, help="train items per class")
    parser.add_argument("--seed_id", type=seed_id, default=default_seed, help="which of the 10 seeds (0..9)")
    add_subset_seed_flag(parser)
    add_sampler_flag(parser)


def sampler_name(text: str) -> str:
    """A registered posterior sampler (bayestda.samplers)."""
    try:
        return check_sampler(text.strip())
    except BayesTDAError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_sampler_flag(parser: argparse.ArgumentParser) -> None:
    """--sampler NAME: how the posterior is sampled (default the paper's seeds × checkpoints; experiments `..._<name>`)."""
    parser.add_argument("--sampler", type=sampler_name, default=DEFAULT_SAMPLER,
                        help=f"posterior sampler: {', '.join(all_samplers())} (default {DEFAULT_SAMPLER}, the paper's; "
                             "others' experiment names end in _<sampler>)")


def add_subset_seed_flag(parser: argparse.ArgumentParser) -> None:
    """--subset-seed R: 0 the paper's training subset (default), R >= 1 a fresh draw (experiments `..._r<R>`)."""
    parser.add_argument("--subset-seed", type=int_range(0, what=" (the training-subset seed)"), default=0,
                        help="0: the paper's training subset (default); R >= 1: a fresh class-balanced draw from the "
                             "full data (experiment names end in _r<R>)")


def add_device_flag(parser: argparse.ArgumentParser, default: str = "cpu") -> None:
    parser.add_argument("--device", type=device, default=default, help=f"torch device: cpu, cuda, cuda:N (default {default})")


def add_jobs_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--jobs", type=positive_int, default=None,
                        help=f"{what} in parallel processes, one torch thread each (default: the CPU threads; 1 on a GPU)")


def lds_subsets(zero_means: str | None = None) -> Callable[[str], int]:
    """M random half subsets for LDS: 2..MAX_SUBSETS (Spearman over one subset is not defined), and 0 where
    `zero_means` says what 0 does."""

    def parse(text: str) -> int:
        value = _integer(text)
        if value == 0 and zero_means:
            return 0
        if not 2 <= value <= MAX_SUBSETS:
            zero = f"0 ({zero_means}) or " if zero_means else ""
            raise argparse.ArgumentTypeError(f"{value} is out of range; allowed: {zero}2..{MAX_SUBSETS}")
        return value

    parse.__name__ = "integer"
    return parse


def add_lds_target_flags(parser: argparse.ArgumentParser) -> None:
    """Which models LDS's target is made of: an independent set of R seeds (default) or the posterior seeds."""
    parser.add_argument("--lds-target", default="independent", choices=TARGETS,
                        help="independent (default): R models per subset under seeds disjoint from the posterior's; "
                             "paired: the posterior seeds' own retraining (bayestda 0.2)")
    parser.add_argument("--lds-models", type=int_range(1, MAX_MODELS), default=10,
                        help="R, the independent target's models per subset (default 10)")


def add_strategy_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy", default="auto", choices=STRATEGIES,
                        help="many-model trainer: auto, loop (CPU) or stacked (GPU)")
    parser.add_argument("--model-chunk", type=positive_int, default=None,
                        help="train the LOO models in groups of this many (bounds GPU memory; default: all at once)")


def add_method_setting_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trak-dim", type=int_range(MIN_DIM, MAX_DIM), default=None,
                        help="TRAK's projection dimension k (default 512)")
    parser.add_argument("--ekfac-damping", type=float_range(*DAMPING_RANGE), default=None,
                        help="EK-FAC's damping λ (default 5e-3, the training's weight decay)")
    parser.add_argument("--bif-settings", type=bif_settings, default=None, metavar="KEY=VALUE,...",
                        help="the Bayesian influence's SGLD: draws, step, temperature, burn_in, thin, localisation "
                             "(default 40, 1e-5, 1, 100, 5, 1000; docs/samplers.md)")


def bif_settings(text: str) -> BifSettings:
    """`key=value,...` of BifSettings, each converted and checked."""
    try:
        return with_text(BifSettings(), text, "bif", "draws=20,localisation=100").check()
    except BayesTDAError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
