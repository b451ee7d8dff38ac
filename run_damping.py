"""The damping curve of the influence methods that invert a damped curvature (if_converged, ekfac, arnoldi):
LOO correlation and LDS, standard and within-class, at λ = 1e-6 ... 1 and each method's default.

    python run_damping.py --experiment cnn_mnist3_10pc              # the last checkpoint of all 10 seeds
    python run_damping.py --experiment cnn_mnist3_10pc --ckpts 12,13,14

Needs the seeds' checkpoints, loo_corrected's scores (the LOO truth) and, for the LDS columns, the LDS retraining
(run_lds_retraining.py). Writes results/<exp>/damping/<seed>_<epoch>.pt (every method's scores at every λ, skipped
when current), then damping.csv, damping.png and damping.md in results/<exp>/.
"""

from __future__ import annotations

from bayestda.cli.flags import Parser, add_device_flag, add_jobs_flag, experiment_name, float_list, int_list
from bayestda.cli.scripts import run
from bayestda.experiments.experiment import Experiment
from bayestda.results.damping import DAMPED_METHODS, DAMPINGS, run_damping_curve


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__)
    parser.add_argument("--experiment", type=experiment_name, default="cnn_mnist3_10pc", help="e.g. cnn_mnist3_10pc")
    parser.add_argument("--ckpts", type=int_list(0), default=None,
                        help="comma-separated checkpoint epochs scored (default: the last one)")
    parser.add_argument("--dampings", type=float_list(1e-12, 1e6), default=None,
                        help=f"comma-separated λ (default {','.join(f'{d:g}' for d in DAMPINGS)}; each method's "
                             "default is added)")
    add_device_flag(parser)
    add_jobs_flag(parser, "checkpoints scored")
    args = parser.parse_args(argv)
    experiment = Experiment.parse(args.experiment)
    epochs = experiment.check_checkpoint_epochs(args.ckpts) if args.ckpts else None
    table = run_damping_curve(experiment, epochs, DAMPED_METHODS, tuple(args.dampings or DAMPINGS), args.device,
                              args.jobs)
    print((experiment.results_dir() / "damping.md").read_text())
    return 0 if len(table) else 1


if __name__ == "__main__":
    run(main)
