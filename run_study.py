"""A study: a named set of experiments run through the launcher's stages (training, TDA scores, the LDS
retraining, the analysis), then read side by side in results/study_<NAME>/.

    python run_study.py --study fragility --dry-run        # the jobs, what is done, each experiment's estimate here
    python run_study.py --study fragility --workers 2      # run (resumable: finished jobs are skipped)
    python run_study.py --study paper --slurm --partition gpu --gpus-per-job 1 --wait
    python run_study.py --study fragility --table-only     # only rewrite the table and figures
    python run_study.py --study fragility --experiments cnn-wd0_mnist3_10pc   # one of its experiments

Studies (bayestda/studies.py): fragility, paper-mnist3, paper, tiny. Experiments estimated above the study's
budget here (2 hours each) are listed with their estimate and left out unless --include-large (for a GPU or SLURM).
Writes methods_by_experiment.csv (every experiment's methods.csv rows with the settings it varies), mean_p_by_k.png
(the paper's view) and metrics_by_setting.png.
"""

from __future__ import annotations

from bayestda.checkpoints import build_model
from bayestda.cli import run
from bayestda.flags import Parser, experiment_list, gpu_list, non_negative_int, positive_int, seed_id_list
from bayestda.launch import check_gpus, describe, ensure_subsets, make_slots, plan, run_local
from bayestda.slurm import SlurmOptions, submit
from bayestda.studies import STUDIES, estimate_seconds, get_study
from bayestda.study_results import study_dir, write_study


def _params(experiment) -> int:
    return sum(p.numel() for p in build_model(experiment).parameters())


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__)
    parser.add_argument("--study", required=True, choices=tuple(STUDIES), help="the study to run")
    parser.add_argument("--experiments", type=experiment_list, default=None,
                        help="run only these of the study's experiments (the table still reads every finished one)")
    parser.add_argument("--seed_ids", type=seed_id_list, default=None, help="comma-separated seed ids (default: all 10)")
    parser.add_argument("--include-large", action="store_true",
                        help="also run the experiments estimated above the study's budget here")
    parser.add_argument("--dry-run", action="store_true", help="print the jobs and the estimates, run nothing")
    parser.add_argument("--table-only", action="store_true", help="only (re)write the study's table and figures")
    parser.add_argument("--gpus", type=gpu_list, default=None, help="GPU ids, one job per GPU at a time")
    parser.add_argument("--workers", type=positive_int, default=None, help="CPU workers; the cores are split between them")
    parser.add_argument("--slurm", action="store_true", help="submit job arrays to SLURM instead of running here")
    parser.add_argument("--partition", default=None)
    parser.add_argument("--time", type=positive_int, default=60, help="minutes per SLURM job")
    parser.add_argument("--gpus-per-job", type=non_negative_int, default=0)
    parser.add_argument("--cpus-per-job", type=positive_int, default=1)
    parser.add_argument("--mem-gb", type=positive_int, default=None)
    parser.add_argument("--array-parallelism", type=positive_int, default=32)
    parser.add_argument("--wait", action="store_true", help="wait for the SLURM arrays")
    args = parser.parse_args(argv)
    if args.gpus and args.workers:
        parser.error("--gpus and --workers exclude each other: --gpus runs one job per GPU, --workers CPU jobs")
    study = get_study(args.study)
    experiments = study.parsed()
    seeds = len(args.seed_ids) if args.seed_ids else 10
    estimates = {e.name: estimate_seconds(e, _params(e), seeds, args.workers or 2, 2 * study.lds_models)
                 for e in experiments}
    chosen = [e for e in experiments if args.include_large or estimates[e.name] <= study.budget_s]
    if args.experiments:
        stray = [name for name in args.experiments if name not in study.experiments]
        if stray:
            parser.error(f"argument --experiments: {stray[0]} is not in study {study.name}; allowed: "
                         f"{', '.join(study.experiments)}")
        chosen = [e for e in experiments if e.name in args.experiments]
    print(f"study {study.name}: {study.description}; methods {', '.join(study.methods)}")
    for experiment in experiments:
        left = "" if experiment in chosen else "  (left out: above the budget here; --include-large, a GPU or SLURM)"
        print(f"  {experiment.name:<30} estimate here {estimates[experiment.name] / 60:7.0f} min{left}")
    if not args.table_only:
        jobs = plan(chosen, study.methods, args.seed_ids, lds_subsets=study.lds_subsets, lds_models=study.lds_models)
        if args.dry_run:
            print(describe(jobs))
            return 0
        if args.gpus and not args.slurm:
            check_gpus(args.gpus)
        ensure_subsets(chosen)
        if args.slurm:
            options = SlurmOptions(args.partition, args.time, args.gpus_per_job, args.cpus_per_job, args.mem_gb,
                                   args.array_parallelism)
            report = submit(jobs, options, wait=args.wait)
        else:
            report = run_local(jobs, make_slots(args.gpus, args.workers))
        print(report.summary())
        if report.failed or report.blocked:
            return 1
    table = write_study(study)
    if table is None:
        print(f"no experiment of study {study.name} has finished; nothing written")
        return 1
    print(f"wrote {study_dir(study)}: {table['experiment'].nunique()} experiments, {len(table)} rows")
    return 0


if __name__ == "__main__":
    run(main)
