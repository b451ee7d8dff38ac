"""The LDS retraining stage: M random halves of the train set, each trained from scratch for every seed.

    python run_lds_retraining.py --experiment cnn_mnist3_10pc                 # M = 100, all 10 seeds
    python run_lds_retraining.py --experiment cnn_mnist3_10pc --seed_id 3 --lds-subsets 200

Writes models/<model>/<task>_<N>pc/<seed>/lds_<M>_subsets.pt per seed (the subsets and their models' test
losses); a current file is skipped, so an interrupted run continues. The analysis reads them for the LDS columns
of methods.csv.
"""

from __future__ import annotations

from bayestda.cli import run
from bayestda.experiment import Experiment
from bayestda.flags import Parser, add_device_flag, add_jobs_flag, experiment_name, lds_subsets, seed_id
from bayestda.lds import check_subsets, retrain_seeds
from bayestda.seeds import check_seed_id, load_seeds
from bayestda.tasks import ModelTask


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__)
    parser.add_argument("--experiment", type=experiment_name, default="cnn_mnist3_10pc", help="e.g. cnn_mnist3_10pc")
    parser.add_argument("--lds-subsets", type=lds_subsets(), default=None,
                        help="M, the number of random half subsets (default: the model family's, 100)")
    parser.add_argument("--seed_id", type=seed_id, default=None, help="one of the 10 seeds (0..9; default: all)")
    add_device_flag(parser)
    add_jobs_flag(parser, "seeds trained")
    parser.add_argument("--overwrite", action="store_true", help="retrain subset models that are current")
    args = parser.parse_args(argv)
    experiment = Experiment.parse(args.experiment)
    m = check_subsets(args.lds_subsets if args.lds_subsets is not None
                      else experiment.model_task.lds_subsets or ModelTask.lds_subsets)
    seeds = [check_seed_id(args.seed_id)] if args.seed_id is not None else load_seeds()
    retrain_seeds(experiment, seeds, m, overwrite=args.overwrite, device=args.device, jobs=args.jobs)
    return 0


if __name__ == "__main__":
    run(main)
