"""What one cell of the paper's grid costs on this machine, measured: one seed trained, every study method at two
checkpoints (run_scores calls, the methods sharing their gradients as in a run), LDS subset models; the whole
cell's wall time here and a GPU estimate derived from them (issue 24: the CIFAR-10 cells' cost).

    python benchmarks/bench_cell_cost.py --experiment cnn_cifar10_10pc   # writes benchmarks/cell_cost_<exp>.json

Runs in a fresh temporary output root (nothing of yours is read or written), one process with every core; run it
on a quiet machine. The whole cell here: 10 seeds trained, 10 seeds x 5 checkpoints of every study method and the
LDS stage's 2 designs x R = 10 seeds x M = 100 subset models, split over 2 workers as run_study runs them (the
analysis not included).

The cell's estimates come from bayestda.launch.estimates.estimate on these numbers (what run_study.py --dry-run prints); its
GPU figure is a model with two assumptions (GPU_STEP_MS, GPU_SPEEDUP there), not a measurement:
benchmarks/gpu_check.sh measures the real thing on the first GPU lent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from bayestda.core.seeds import load_seeds
from bayestda.data.subsets import generate_subsets
from bayestda.experiments.experiment import Experiment
from bayestda.experiments.studies import get_study
from bayestda.launch.estimates import ANALYSIS_S, CPU_RUN_FACTOR, GPU_SPEEDUP, GPU_STEP_MS, JOB_START_S, CellCost, estimate
from bayestda.launch.stages import Request
from bayestda.scores.pipeline import run_scores
from bayestda.training.checkpoints import parameter_count
from bayestda.training.lds import draw_subsets, seed_start, train_on_subset
from bayestda.training.loops import train_seed

CHECKPOINTS_TIMED = 2  # the last two: per-seed set-up shared by a seed's checkpoints is counted once for both
RETRAINING = ("loo", "loo_corrected")  # methods whose cost is retraining (loo_corrected reuses loo's models)


def measure(experiment_name: str, lds_models_measured: int) -> dict:
    os.environ["BAYESTDA_OUTPUT_ROOT"] = tempfile.mkdtemp(prefix="cell_cost_")  # read at each call (paths.py)
    os.environ.setdefault("BAYESTDA_SUBSET_DIR", str(Path(os.environ["BAYESTDA_OUTPUT_ROOT"]) / "data"))
    experiment = Experiment.parse(experiment_name)
    generate_subsets(experiment.task, [experiment.num_per_class])
    seed, epochs = load_seeds()[0], experiment.checkpoint_epochs[-CHECKPOINTS_TIMED:]
    start = time.perf_counter()
    train_seed(experiment, seed)
    train_s = time.perf_counter() - start
    methods = get_study("paper").methods
    start = time.perf_counter()
    run_scores(experiment, seed, [m for m in methods if m in RETRAINING], epochs=epochs, show_progress=False,
               phantoms=True)  # as the scores stage runs them (the phantoms' LOO rows come from the same run)
    retraining_s = (time.perf_counter() - start) / len(epochs)
    start = time.perf_counter()
    run_scores(experiment, seed, [m for m in methods if m not in RETRAINING], epochs=epochs, show_progress=False,
               phantoms=True)
    others_s = (time.perf_counter() - start) / len(epochs)
    begun = seed_start(experiment, seed)
    masks = draw_subsets(len(begun.train), lds_models_measured + 1)
    train_on_subset(experiment, seed, masks[-1].nonzero().squeeze(1), "cpu", begun)  # warm-up, untimed
    start = time.perf_counter()
    for k in range(lds_models_measured):
        train_on_subset(experiment, seed, masks[k].nonzero().squeeze(1), "cpu", begun)
    lds_model_s = (time.perf_counter() - start) / lds_models_measured
    return {"experiment": experiment.name, "n_train": len(begun.train), "seed": seed, "checkpoints": epochs,
            "methods": methods, "torch_threads": torch.get_num_threads(), "train_seed_s": train_s,
            "retraining_per_checkpoint_s": retraining_s, "other_methods_per_checkpoint_s": others_s,
            "lds_model_s": lds_model_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="cnn_cifar10_10pc")
    parser.add_argument("--lds-models", type=int, default=10, help="subset models timed (then scaled to the stage)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    numbers = measure(args.experiment, args.lds_models)
    experiment = Experiment.parse(args.experiment)
    cost = CellCost(experiment.name, numbers["n_train"], parameter_count(experiment),
                    numbers["train_seed_s"], numbers["retraining_per_checkpoint_s"],
                    numbers["other_methods_per_checkpoint_s"], numbers["lds_model_s"])
    cell = estimate(experiment, cost.params, Request.for_study(get_study("paper"), [experiment]), base=cost)
    numbers["params"] = cost.params
    numbers["estimates"] = {"per_checkpoint_s": cell.per_checkpoint_s, "cpu_cell_min": cell.cpu_s / 60,
                            "gpu_cell_min": cell.gpu_s / 60}
    numbers["assumptions"] = {"gpu_step_ms": GPU_STEP_MS, "gpu_speedup_other_methods": GPU_SPEEDUP,
                              "job_start_s": JOB_START_S, "analysis_s": ANALYSIS_S, "cpu_run_factor": CPU_RUN_FACTOR}
    out = args.out or Path(__file__).parent / f"cell_cost_{args.experiment}.json"
    out.write_text(json.dumps(numbers, indent=2) + "\n")
    print(json.dumps(numbers["estimates"], indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
