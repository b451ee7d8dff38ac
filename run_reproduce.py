"""The main job: data, training, all TDA methods for all 10 seeds, the LDS retraining (random and class-stratified
halves, an independent target), p-values, correlations,
the methods table and summary.

`python run_reproduce.py --experiment cnn_mnist3_10pc` (what `make reproduce` runs). Every stage skips
finished outputs, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import logging
import time

from tqdm import tqdm

from bayestda.attribution import default_methods
from bayestda.cli import run
from bayestda.damping import run_damping_curve
from bayestda.data import generate_subsets, subset_path
from bayestda.experiment import Experiment, load_seeds
from bayestda.flags import (
    Parser,
    add_device_flag,
    add_jobs_flag,
    add_lds_target_flags,
    experiment_name,
    lds_subsets,
    method_list,
)
from bayestda.lds import HALVES, LdsDesign, retrain
from bayestda.parallel import default_workers, process_map
from bayestda.pipeline import run_scores
from bayestda.results import load_all, run_correlations, run_pvalues
from bayestda.trainers import train_seed

log = logging.getLogger("run_reproduce")


def _score_one_seed(job: tuple[str, int, list[str], str, bool]) -> int:
    """One seed's scores (module level, so that it can be sent to a spawned process)."""
    name, seed, methods, device, progress = job
    run_scores(Experiment.parse(name), seed, methods, device=device, show_progress=progress)
    return seed


def score_seeds(experiment: Experiment, seeds: list[int], methods: list[str], device: str, jobs: int) -> None:
    """Every seed's scores; on a CPU `jobs` processes with one thread each (15% faster than threads here)."""
    work = [(experiment.name, seed, methods, device, jobs <= 1) for seed in seeds]
    process_map(_score_one_seed, work, jobs, f"{experiment.name} TDA scores")


def main(argv: list[str] | None = None) -> int:
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
    experiment = Experiment.parse(args.experiment)
    methods = args.methods or default_methods() + list(experiment.model_task.reproduce_methods)
    seeds = load_seeds()
    times = {}
    start = time.perf_counter()
    if not subset_path(experiment.task, "train", experiment.num_per_class).exists():
        generate_subsets(experiment.task, [experiment.num_per_class])
    with tqdm(total=len(seeds) * experiment.epochs, desc=f"{experiment.name} training", unit="epoch") as bar:
        for seed in seeds:
            train_seed(experiment, seed, progress=bar)
    times["training"] = time.perf_counter() - start
    jobs = args.jobs or default_workers(args.device)
    score_seeds(experiment, seeds, methods, args.device, jobs)
    times["tda"] = time.perf_counter() - start - sum(times.values())
    m = experiment.model_task.lds_subsets if args.lds_subsets is None else args.lds_subsets
    if m:
        designs = [LdsDesign(m, args.lds_target, halves, args.lds_models) for halves in HALVES]
        retrain(experiment, designs, device=args.device, jobs=jobs)
        times["lds_retraining"] = time.perf_counter() - start - sum(times.values())
    posteriors = load_all(experiment, methods)  # read once for both analysis stages
    run_pvalues(experiment, methods, posteriors=posteriors)
    run_correlations(experiment, methods, lds_subsets=m, posteriors=posteriors, lds_target=args.lds_target if m else None,
                     lds_models=args.lds_models)
    times["analysis"] = time.perf_counter() - start - sum(times.values())
    if experiment.model_task.damping_curve and "loo_corrected" in methods:
        run_damping_curve(experiment, device=args.device, jobs=jobs)
        times["damping_curve"] = time.perf_counter() - start - sum(times.values())
    log.info("done in %.0f s (%s); results in %s", time.perf_counter() - start,
             ", ".join(f"{k} {v:.0f} s" for k, v in times.items()), experiment.results_dir())
    print((experiment.results_dir() / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    run(main)
