"""The LDS retraining stage: M halves of the train set (random and class-stratified), each trained from scratch
by the target's models.

    python run_lds_retraining.py --experiment cnn_mnist3_10pc                     # M = 100, both halves, R = 10
    python run_lds_retraining.py --experiment cnn_mnist3_10pc --halves stratified --seed_id 3
    python run_lds_retraining.py --experiment cnn_mnist3_10pc --lds-target paired  # the posterior seeds (0.2)

The independent target (default) trains R models per subset under seeds drawn disjoint from the 10 posterior
seeds, into models/<model>/<task>_<N>pc/lds_targets/<seed>/; the paired target retrains under the posterior seeds
themselves, into each seed's folder. One file per seed and halves, lds_<M>[_stratified]_subsets.pt (the subsets
and their models' test losses); a current file is skipped, so an interrupted run continues. The analysis reads
them for the LDS columns of methods.csv (random halves: lds_*; stratified: lds_within_class_*).
"""

from __future__ import annotations

from bayestda.cli.flags import Parser, add_device_flag, add_jobs_flag, add_lds_target_flags, experiment_name, int_range, lds_subsets
from bayestda.cli.scripts import run
from bayestda.experiments.experiment import Experiment
from bayestda.families import ModelFamily
from bayestda.training.lds import HALVES, LEAVE_ONE_OUT, LdsDesign, retrain


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__)
    parser.add_argument("--experiment", type=experiment_name, default="cnn_mnist3_10pc", help="e.g. cnn_mnist3_10pc")
    parser.add_argument("--lds-subsets", type=lds_subsets(), default=None,
                        help="M, the number of half subsets (default: the model family's, 100)")
    add_lds_target_flags(parser)
    parser.add_argument("--halves", default="both", choices=(*HALVES, "both", LEAVE_ONE_OUT),
                        help="random halves (LDS), class-stratified halves (within-class LDS), both (default), or "
                             "leave_one_out: the from-scratch LOO truth (each posterior seed's run without each train "
                             "item; M and the target flags do not apply)")
    parser.add_argument("--seed_id", type=int_range(0), default=None,
                        help="the k-th of the target's seeds only (paired: the paper's seed k; independent: the k-th "
                             "of the R retraining seeds; default: all)")
    add_device_flag(parser)
    add_jobs_flag(parser, "seeds trained")
    parser.add_argument("--overwrite", action="store_true", help="retrain subset models that are current")
    args = parser.parse_args(argv)
    experiment = Experiment.parse(args.experiment)
    m = args.lds_subsets if args.lds_subsets is not None else experiment.family.lds_subsets or ModelFamily.lds_subsets
    halves = HALVES if args.halves == "both" else (args.halves,)
    designs = [LdsDesign.leave_one_out()] if args.halves == LEAVE_ONE_OUT else \
        [LdsDesign(m, args.lds_target, h, args.lds_models) for h in halves]
    seeds = None
    if args.seed_id is not None:
        target_seeds = designs[0].seeds()
        if args.seed_id >= len(target_seeds):
            parser.error(f"argument --seed_id: {args.seed_id} is out of range; allowed: 0..{len(target_seeds) - 1} "
                         f"(the target's {len(target_seeds)} seeds)")
        seeds = [target_seeds[args.seed_id]]
    retrain(experiment, designs, seeds, overwrite=args.overwrite, device=args.device, jobs=args.jobs)
    return 0


if __name__ == "__main__":
    run(main)
