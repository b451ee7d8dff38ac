"""Run the paper's grid, or part of it: the stages of each experiment (bayestda/launch/stages.py) as jobs, in
stage order, resumable. By default each experiment's whole analysis, the stages `make reproduce` runs: training,
every default method and the family's own, the LDS retraining (the family's M), the analysis and the damping curve.

    python run_all.py --experiments cnn_mnist3_10pc --dry-run            # the plan: jobs per stage, done or not
    python run_all.py --experiments cnn_mnist3_10pc --workers 2          # CPU workers sharing the cores
    python run_all.py --all --gpus 0,1,2,3 --lds-subsets 0 --no-damping  # one job per GPU; scores and analysis only
    python run_all.py --all --slurm --partition gpu --gpus-per-job 1     # SLURM job arrays via submitit

Finished jobs are skipped; a failed job is reported by name with its log and the others go on.
"""

from __future__ import annotations

from dataclasses import replace

from bayestda.cli.flags import Parser, experiment_list, lds_subsets, method_list, sampler_name, seed_id_list
from bayestda.cli.launcher import add_launcher_flags, check_launcher_flags, launch
from bayestda.cli.scripts import run
from bayestda.launch.stages import Request, describe, grid_experiments, plan


def request_of(argv: list[str] | None = None) -> tuple[Request, object]:
    """The parsed flags as a stage-graph request (and the namespace: the launcher's flags)."""
    parser = Parser(description=__doc__)
    grid = parser.add_argument_group("grid")
    grid.add_argument("--experiments", type=experiment_list,
                      help="comma-separated experiments, e.g. cnn_mnist3_10pc,cnn_cifar10_20pc")
    grid.add_argument("--all", action="store_true", help="every experiment of the paper: cnn and vit, mnist3 and cifar10, all sizes")
    grid.add_argument("--methods", type=method_list, default=None,
                      help="comma-separated methods (default: every default method and the model family's own)")
    grid.add_argument("--seed_ids", type=seed_id_list, default=None, help="comma-separated seed ids 0..9 (default: all 10)")
    parser.add_renamed("--seeds", "--seed_ids")
    grid.add_argument("--sampler", type=sampler_name, default=None,
                      help="every experiment under this posterior sampler (e.g. swag; names end in _<sampler>)")
    grid.add_argument("--vit-weights", default=None, help="ViT backbone for vit_* experiments (default: the paper's)")
    grid.add_argument("--no-analysis", action="store_true", help="skip p-values and correlations")
    grid.add_argument("--no-damping", action="store_true", help="skip the damping curve")
    grid.add_argument("--lds-subsets", type=lds_subsets("no LDS"), default=None,
                      help="the LDS retraining: M random and M class-stratified halves under 10 independent seeds "
                           "(default: the model family's, 100 for the CNNs and none for the ViTs; 0: none)")
    grid.add_argument("--dry-run", action="store_true", help="print the plan and what is already done, run nothing")
    add_launcher_flags(parser)
    args = parser.parse_args(argv)
    check_launcher_flags(parser, args)
    experiments = grid_experiments(args.experiments, args.all, args.vit_weights)
    if args.sampler is not None:
        experiments = [replace(e, sampler=args.sampler) for e in experiments]
    request = Request(tuple(experiments), None if args.methods is None else tuple(args.methods),
                      None if args.seed_ids is None else tuple(args.seed_ids), args.lds_subsets,
                      analysis=not args.no_analysis, damping=not args.no_damping)
    return request, args


def main(argv: list[str] | None = None) -> int:
    request, args = request_of(argv)
    jobs = plan(request)
    if args.dry_run:
        print(describe(jobs))
        return 0
    report = launch(jobs, list(request.experiments), args)
    return 1 if report.failed or report.blocked else 0


if __name__ == "__main__":
    run(main)
