"""Run the paper's grid, or part of it: training, TDA scores and analysis, in stage order, resumable.

    python run_all.py --experiments cnn_mnist3_10pc --dry-run            # the plan: jobs per stage, done or not
    python run_all.py --experiments cnn_mnist3_10pc --workers 2          # CPU workers sharing the cores
    python run_all.py --all --gpus 0,1,2,3                               # one job per GPU at a time
    python run_all.py --all --slurm --partition gpu --gpus-per-job 1     # SLURM job arrays via submitit

Finished jobs are skipped; a failed job is reported by name with its log and the others go on.
"""

from __future__ import annotations

from bayestda.attribution import default_methods
from bayestda.cli import run
from bayestda.flags import (
    Parser,
    experiment_list,
    lds_subsets,
    method_list,
    seed_id_list,
)
from bayestda.launch import describe, grid_experiments, plan
from bayestda.launch_flags import add_launcher_flags, check_launcher_flags, launch


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__)
    grid = parser.add_argument_group("grid")
    grid.add_argument("--experiments", type=experiment_list,
                      help="comma-separated experiments, e.g. cnn_mnist3_10pc,cnn_cifar10_20pc")
    grid.add_argument("--all", action="store_true", help="every experiment of the paper: cnn and vit, mnist3 and cifar10, all sizes")
    grid.add_argument("--methods", type=method_list, default=None, help="comma-separated methods (default: every default method)")
    grid.add_argument("--seed_ids", type=seed_id_list, default=None, help="comma-separated seed ids 0..9 (default: all 10)")
    parser.add_renamed("--seeds", "--seed_ids")
    grid.add_argument("--vit-weights", default=None, help="ViT backbone for vit_* experiments (default: the paper's)")
    grid.add_argument("--no-analysis", action="store_true", help="skip p-values and correlations")
    grid.add_argument("--lds-subsets", type=lds_subsets("no LDS, the default"), default=0,
                      help="add the LDS retraining: M random and M class-stratified halves under 10 independent seeds "
                           "per experiment of a family that supports it (default 0: none)")
    grid.add_argument("--dry-run", action="store_true", help="print the plan and what is already done, run nothing")
    add_launcher_flags(parser)
    args = parser.parse_args(argv)

    check_launcher_flags(parser, args)
    experiments = grid_experiments(args.experiments, args.all, args.vit_weights)
    methods = args.methods or default_methods()
    jobs = plan(experiments, methods, args.seed_ids, analysis=not args.no_analysis, lds_subsets=args.lds_subsets)
    if args.dry_run:
        print(describe(jobs))
        return 0
    report = launch(jobs, experiments, args)
    return 1 if report.failed or report.blocked else 0


if __name__ == "__main__":
    run(main)
