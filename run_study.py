"""A study: a named set of experiments run through the launcher's stages (training, TDA scores, the LDS
retraining, the analysis), then read side by side in results/study_<NAME>/.

    python run_study.py --study fragility --dry-run        # the jobs, what is done, each experiment's estimate here
    python run_study.py --study fragility --workers 2      # run (resumable: finished jobs are skipped)
    python run_study.py --study paper --slurm --partition gpu --gpus-per-job 1 --wait
    python run_study.py --study fragility --table-only     # only rewrite the table and figures
    python run_study.py --study fragility --experiments cnn-wd0_mnist3_10pc   # one of its experiments

Studies (bayestda/experiments/studies.py): fragility, paper-mnist3, paper, tiny. Experiments estimated above the study's
budget here (2 hours each) are listed with their estimate and left out unless --include-large (for a GPU or SLURM).
Estimates scale a measured cell of the same task (benchmarks/bench_cell_cost.py: cnn_mnist3_10pc, cnn_cifar10_10pc);
the GPU figure is a model with two stated assumptions (bayestda/launch/estimates.py), not a measurement.
Writes methods_by_experiment.csv (every experiment's methods.csv rows with the settings it varies), mean_p_by_k.png
(the paper's view) and metrics_by_setting.png.
"""

from __future__ import annotations

from bayestda.cli.flags import Parser, experiment_list, sampler_name, seed_id_list
from bayestda.cli.launcher import add_launcher_flags, check_launcher_flags, launch
from bayestda.cli.scripts import run
from bayestda.experiments.studies import STUDIES, get_study
from bayestda.launch.estimates import estimate
from bayestda.launch.stages import Request, describe, plan
from bayestda.results.study import study_dir, write_study
from bayestda.training.checkpoints import parameter_count


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__)
    parser.add_argument("--study", required=True, choices=tuple(STUDIES), help="the study to run")
    parser.add_argument("--experiments", type=experiment_list, default=None,
                        help="run only these of the study's experiments (the table still reads every finished one)")
    parser.add_argument("--seed_ids", type=seed_id_list, default=None, help="comma-separated seed ids (default: all 10)")
    parser.add_argument("--sampler", type=sampler_name, default=None,
                        help="run the study's experiments under this posterior sampler instead (names end in _<sampler>)")
    parser.add_argument("--include-large", action="store_true",
                        help="also run the experiments estimated above the study's budget here")
    parser.add_argument("--dry-run", action="store_true", help="print the jobs and the estimates, run nothing")
    parser.add_argument("--table-only", action="store_true", help="only (re)write the study's table and figures")
    add_launcher_flags(parser)
    args = parser.parse_args(argv)
    check_launcher_flags(parser, args)
    study = get_study(args.study)
    if args.sampler is not None:
        study = study.under(args.sampler)
    experiments = study.parsed()
    whole = Request.for_study(study, experiments, args.seed_ids)
    estimates = {e.name: estimate(e, parameter_count(e), whole, args.workers or 2) for e in experiments}
    large = {e.name for e in experiments if not args.include_large and estimates[e.name].cpu_s > study.budget_s}
    chosen = [e for e in experiments if e.name not in large]
    if args.experiments:
        stray = [name for name in args.experiments if name not in study.experiments]
        if stray:
            parser.error(f"argument --experiments: {stray[0]} is not in study {study.name}; allowed: "
                         f"{', '.join(study.experiments)}")
        chosen = [e for e in experiments if e.name in args.experiments]
    print(f"study {study.name}: {study.description}; methods {', '.join(study.methods)}")
    for experiment in experiments:
        left = "" if experiment in chosen else "  (left out: above the budget here; --include-large, a GPU or SLURM)" \
            if experiment.name in large else "  (not in --experiments)"
        cost = estimates[experiment.name]
        print(f"  {experiment.name:<30} here {cost.cpu_s / 60:6.0f} min ({cost.per_checkpoint_s:5.0f} s per checkpoint, "
              f"{'measured' if cost.measured else 'scaled'}); one GPU {cost.gpu_s / 60:4.0f} min (model){left}")
    if not args.table_only:
        jobs = plan(Request.for_study(study, chosen, args.seed_ids))
        if args.dry_run:
            print(describe(jobs))
            return 0
        report = launch(jobs, chosen, args)
        if report.failed or report.blocked:
            return 1
    table = write_study(study, whole.seeds if args.seed_ids else None)
    if table is None:
        print(f"no experiment of study {study.name} has finished; nothing written")
        return 1
    print(f"wrote {study_dir(study)}: {table['experiment'].nunique()} experiments, {len(table)} rows")
    return 0


if __name__ == "__main__":
    run(main)
