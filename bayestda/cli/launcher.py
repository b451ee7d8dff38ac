"""The launcher's flags (local GPUs or CPU workers, SLURM) and the call that runs a plan with them: one place for
run_all.py and run_study.py."""

from __future__ import annotations

import argparse

from ..launch.jobs import Job, Report
from ..launch.local import check_gpus, make_slots, run_local
from ..launch.slurm import SlurmOptions, submit
from ..launch.stages import ensure_subsets
from .flags import gpu_list, non_negative_int, positive_int


def add_launcher_flags(parser: argparse.ArgumentParser) -> None:
    local = parser.add_argument_group("local launcher")
    local.add_argument("--gpus", type=gpu_list, default=None, help="GPU ids, one job per GPU at a time (CUDA_VISIBLE_DEVICES)")
    local.add_argument("--workers", type=positive_int, default=None, help="CPU workers; the cores are split between them")
    slurm = parser.add_argument_group("SLURM launcher (submitit)")
    slurm.add_argument("--slurm", action="store_true", help="submit job arrays to SLURM instead of running here")
    slurm.add_argument("--partition", default=None)
    slurm.add_argument("--time", type=positive_int, default=60, help="minutes per job")
    slurm.add_argument("--gpus-per-job", type=non_negative_int, default=0)
    slurm.add_argument("--cpus-per-job", type=positive_int, default=1)
    slurm.add_argument("--mem-gb", type=positive_int, default=None)
    slurm.add_argument("--array-parallelism", type=positive_int, default=32, help="tasks of one array running at once")
    slurm.add_argument("--wait", action="store_true", help="wait for the arrays and report failures")


def check_launcher_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse exclusive flags at parse time (one line, exit 2)."""
    if args.gpus and args.workers:
        parser.error("--gpus and --workers exclude each other: --gpus runs one job per GPU, --workers CPU jobs")


def launch(jobs: list[Job], experiments, args: argparse.Namespace) -> Report:
    """Run the plan with the parsed launcher flags (the local GPUs checked first), its summary printed."""
    if args.gpus and not args.slurm:
        check_gpus(args.gpus)
    ensure_subsets(experiments)
    if args.slurm:
        options = SlurmOptions(args.partition, args.time, args.gpus_per_job, args.cpus_per_job, args.mem_gb,
                               args.array_parallelism)
        report = submit(jobs, options, wait=args.wait)
    else:
        report = run_local(jobs, make_slots(args.gpus, args.workers))
    print(report.summary())
    return report
