"""The main job: an experiment's whole analysis in this process, stage by stage (bayestda/launch/stages.py, the
same plan `run_all.py` launches as jobs): data, training of the 10 seeds, every TDA method, the LDS retraining
(random and class-stratified halves, an independent target), p-values, correlations, the methods table and summary,
and the damping curve.

`python run_reproduce.py --experiment cnn_mnist3_10pc` (what `make reproduce` runs). A stage whose outputs are
current is skipped, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import logging
import time

from bayestda.cli.flags import (
    Parser,
    add_device_flag,
    add_jobs_flag,
    add_lds_target_flags,
    experiment_name,
    lds_subsets,
    method_list,
)
from bayestda.cli.scripts import run
from bayestda.experiments.experiment import Experiment
from bayestda.launch.stages import Request, RunOptions, run_here

log = logging.getLogger("run_reproduce")


def request_of(argv: list[str] | None = None) -> tuple[Request, RunOptions]:
    """The parsed flags as a stage-graph request and how to run it here."""
    parser = Parser(description=__doc__)
    parser.add_argument("--experiment", type=experiment_name, default="cnn_mnist3_10pc")
    parser.add_argument("--methods", type=method_list, default=None,
                        help="comma-separated methods (default: every default method and the model family's own, "
                             "e.g. the ViT's loo_pretrained)")
    parser.add_argument("--lds-subsets", type=lds_subsets("no LDS"), default=None,
                        help="M half subsets (random and class-stratified) retrained for LDS (default: the model "
                             "family's, 100 for the CNNs, 0 = no LDS for the ViTs)")
    add_lds_target_flags(parser)
    add_device_flag(parser)
    add_jobs_flag(parser, "seeds scored")
    args = parser.parse_args(argv)
    request = Request((Experiment.parse(args.experiment),), None if args.methods is None else tuple(args.methods),
                      lds_subsets=args.lds_subsets, lds_target=args.lds_target, lds_models=args.lds_models)
    return request, RunOptions(args.device, args.jobs)


def main(argv: list[str] | None = None) -> int:
    request, options = request_of(argv)
    experiment = request.experiments[0]
    folder = experiment.analysis_dir(request.methods_for(experiment))
    start = time.perf_counter()
    times = run_here(request, options)
    log.info("done in %.0f s (%s); results in %s", time.perf_counter() - start,
             ", ".join(f"{k} {v:.0f} s" for k, v in times.items()), folder)
    print((folder / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    run(main)
