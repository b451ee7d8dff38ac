"""The CUDA path, checked in one run: device tests, the default experiment trained and scored on the device
and compared with the CPU, the per-GPU launcher, a CIFAR-10 seed, the ViT-B unit costs, and the wall times
they imply for the whole grid. Writes one markdown report (and its numbers as JSON) to OUT.

    bash benchmarks/gpu_check.sh OUT                      # on a GPU machine, about 8 minutes
    bash benchmarks/gpu_check.sh OUT --device cpu --quick # the same steps, small, on a CPU (a test runs it)

The report is rewritten after every section, so a run cut short still returns what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bayestda.analysis import posterior_test
from bayestda.attribution import default_methods
from bayestda.core.datasets import TASKS
from bayestda.core.seeds import load_seeds
from bayestda.data.subsets import generate_subsets
from bayestda.experiments.experiment import Experiment
from bayestda.scores.files import load_array
from bayestda.scores.pipeline import compute, make_context, run_scores
from bayestda.training.loops import train_seed

REPO = Path(__file__).resolve().parents[1]
# --quick: one method per code path (retraining, per-sample gradients, the Hessian), for a CPU smoke run
QUICK_METHODS = ["loo", "gd", "if_converged"]
MAIN = "cnn_mnist3_10pc"


class Report:
    """Markdown sections written to OUT/gpu_check.md after each one; numbers to OUT/gpu_check.json."""

    def __init__(self, out: Path, title: str) -> None:
        self.out, self.parts, self.numbers = out, [f"# {title}\n"], {}
        out.mkdir(parents=True, exist_ok=True)

    def section(self, heading: str, text: str, **numbers) -> None:
        self.parts.append(f"## {heading}\n\n{text.strip()}\n")
        self.numbers.update(numbers)
        (self.out / "gpu_check.md").write_text("\n".join(self.parts))
        (self.out / "gpu_check.json").write_text(json.dumps(self.numbers, indent=2, default=float))


def table(header: list[str], rows: list[list]) -> str:
    fmt = lambda v: ("-" if np.isnan(v) else f"{v:.3g}") if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return "\n".join(lines + ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows])


class Stage:
    """Wall time and peak device memory of a block."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")

    def __enter__(self):
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.cuda:
            torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self.start
        self.peak_gib = torch.cuda.max_memory_allocated() / 2**30 if self.cuda else float("nan")


def script(args: list[str], env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def environment(report: Report, device: str) -> None:
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.processor() or platform.machine()
    rows = [["device", device], ["GPU / processor", gpu], ["torch", torch.__version__],
            ["CUDA (torch build)", torch.version.cuda or "-"], ["cuDNN", torch.backends.cudnn.version() or "-"],
            ["Python", platform.python_version()], ["CPU threads", torch.get_num_threads()]]
    report.section("Machine", table(["what", "value"], rows), device=device, gpu=gpu, torch=torch.__version__,
                   cuda=torch.version.cuda)


def device_tests(report: Report, device: str, quick: bool) -> None:
    try:
        import pytest  # noqa: F401, PLC0415 (optional on the GPU machine: its wheels may be missing)
    except ImportError:
        report.section("Tests on the device", "pytest is not installed here: bring its wheels in `.whl/` "
                       "(see benchmarks/gpu_check.sh); skipped.", device_tests="skipped")
        return
    targets = ["tests/numerics/test_training.py"] if quick else ["tests"]
    with Stage(device) as stage:
        result = script(["-m", "pytest", "-q", "-m", "device", "-p", "no:cacheprovider", *targets],
                        env={"BAYESTDA_TEST_DEVICE": device})
    summary = [line for line in result.stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    failures = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    text = f"`BAYESTDA_TEST_DEVICE={device} pytest -m device {' '.join(targets)}`: " \
           f"{summary[-1] if summary else 'no summary'} ({stage.seconds:.0f} s)"
    report.section("Tests on the device", "\n".join([text, *failures]) if failures else text,
                   device_tests_ok=result.returncode == 0, device_tests_seconds=stage.seconds)


def main_experiment(report: Report, device: str, quick: bool, root: Path) -> dict:
    """Train and score the default experiment on the device; compare seed 446 with the CPU; p-values of both."""

    experiment = Experiment.parse(MAIN)
    seeds = load_seeds()[: 2 if quick else 10]
    epochs = experiment.checkpoint_epochs[-1:] if quick else experiment.checkpoint_epochs
    methods = QUICK_METHODS if quick else default_methods()
    strategy = "stacked" if device.startswith("cuda") else "auto"
    generate_subsets("mnist3", [10])
    with Stage(device) as train:
        accuracy = [train_seed(experiment, s, device=device)["checkpoints"][str(epochs[-1])]
                    ["test_accuracy"] for s in seeds]
    per_seed = []
    with Stage(device) as tda:
        for seed in seeds:
            start = time.perf_counter()
            run_scores(experiment, seed, methods, epochs, device=device, strategy=strategy, show_progress=False)
            per_seed.append(time.perf_counter() - start)
    rows = [[f"train ({len(seeds)} seeds)", train.seconds, train.peak_gib],
            [f"all {len(methods)} methods x {len(epochs)} checkpoints x {len(seeds)} seeds", tda.seconds, tda.peak_gib]]

    def scores_of(method: str) -> np.ndarray:  # (seeds, checkpoints, n_train, n_test) as written by the device run
        return np.stack([np.stack([load_array(experiment, method, s, e)[0] for e in epochs]) for s in seeds])

    # the same checkpoints scored on this machine's CPU: max |difference| / scale of each score matrix
    with Stage("cpu") as cpu_stage:
        diffs = {m: 0.0 for m in methods}
        for epoch in epochs[-1:] if quick else epochs:
            on_cpu = compute(make_context(experiment, seeds[0], epoch, device="cpu"), methods)
            for m in methods:
                written = load_array(experiment, m, seeds[0], epoch)[0]
                reference = on_cpu[m].double().numpy()
                diffs[m] = max(diffs[m], float(np.abs(written - reference).max() / np.abs(reference).max()))
    with Stage(device) as analysis:
        device_p = posterior_test({m: scores_of(m) for m in methods}).mean_p_values.iloc[-1]
    cpu_root = root / "cpu_run"
    env = {"BAYESTDA_OUTPUT_ROOT": str(cpu_root)}
    with Stage("cpu") as cpu_run:
        if quick:
            cpu_p = None
        else:  # the whole experiment again on this machine's CPU, every core busy
            result = script(["run_reproduce.py", "--experiment", MAIN, "--device", "cpu",
                             "--jobs", str(max(1, (os.cpu_count() or 2) // 2))], env=env, timeout=900)
            cpu_p = pd_mean_p(cpu_root / "results" / MAIN / "mean_p_values.csv") if result.returncode == 0 else None
    rows += [[f"the same checkpoints of seed {seeds[0]} on the CPU", cpu_stage.seconds, "-"],
             ["analysis (posterior test)", analysis.seconds, analysis.peak_gib]]
    if cpu_p is not None:
        rows.append(["the whole experiment on the CPU (run_reproduce.py)", cpu_run.seconds, "-"])
    compare = [[m, diffs[m], float(device_p[m]), "-" if cpu_p is None else float(cpu_p[m])] for m in methods]
    text = "\n\n".join([
        f"{MAIN}, {len(seeds)} seeds x {len(epochs)} checkpoints, every default method, trainer strategy "
        f"`{strategy}`; test accuracy at the last checkpoint {np.mean(accuracy):.2f}% (mean over seeds).",
        table(["stage", "wall s", "peak GPU memory GiB"], rows),
        f"Per seed, all methods: {np.mean(per_seed):.1f} s (min {min(per_seed):.1f}, max {max(per_seed):.1f}).",
        f"Scores of seed {seeds[0]} on the device against the same checkpoints scored on the CPU (max |difference| over "
        "the matrix's largest |score|), and the mean p-value at the largest K of the device run and of a whole "
        "CPU run (its own training):",
        table(["method", "max diff / scale", "mean p (device)", "mean p (CPU run)"], compare)])
    report.section(f"The default experiment on {device}", text, main_train_s=train.seconds, main_tda_s=tda.seconds,
                   main_tda_per_seed_s=float(np.mean(per_seed)), main_peak_gib=tda.peak_gib, score_diffs=diffs,
                   mean_p_device=device_p.to_dict(), mean_p_cpu=None if cpu_p is None else cpu_p.to_dict())
    return {"per_seed_s": float(np.mean(per_seed)) + train.seconds / len(seeds), "epochs": len(epochs)}


def pd_mean_p(path: Path):

    return pd.read_csv(path, index_col="K").iloc[-1]


def launcher(report: Report, device: str, quick: bool, root: Path) -> None:
    """run_all.py on a slice of the grid, one job per GPU slot (CUDA_VISIBLE_DEVICES) or one CPU worker."""
    out = root / "launcher"
    slots = ["--gpus", "0"] if device.startswith("cuda") else ["--workers", "1"]
    seeds, methods = ("0", "gd") if quick else ("0,1", "gd,gc,if")
    with Stage(device) as stage:
        result = script(["run_all.py", "--experiments", MAIN, "--methods", methods, "--seed_ids", seeds,
                         "--no-analysis", "--lds-subsets", "0", "--no-damping", *slots],
                        env={"BAYESTDA_OUTPUT_ROOT": str(out)})
    logs = sorted((out / "logs").glob("*.log")) if (out / "logs").exists() else []
    on_slot = sum(1 for log in logs if log.read_text().splitlines()[0].endswith(("gpu0", "cpu0")))
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr.strip()[-300:]
    report.section("The launcher", f"`run_all.py --experiments {MAIN} --methods {methods} --seed_ids {seeds} "
                   f"--no-analysis --lds-subsets 0 {' '.join(slots)}`: exit {result.returncode}, {summary}; {on_slot} of "
                   f"{len(logs)} job logs on "
                   f"slot {'gpu0' if device.startswith('cuda') else 'cpu0'}; {stage.seconds:.0f} s.",
                   launcher_ok=result.returncode == 0, launcher_s=stage.seconds)


def cifar(report: Report, device: str, quick: bool) -> float:

    experiment, seed = Experiment.parse("cnn_cifar10_10pc"), load_seeds()[0]
    methods = ["gd"] if quick else default_methods()
    epochs = experiment.checkpoint_epochs[-1:] if quick else experiment.checkpoint_epochs
    generate_subsets("cifar10", [10])
    strategy = "stacked" if device.startswith("cuda") else "auto"
    with Stage(device) as train:
        train_seed(experiment, seed, device=device)
    with Stage(device) as tda:
        run_scores(experiment, seed, methods, epochs, device=device, strategy=strategy, show_progress=False)
    report.section("One CIFAR-10 seed", table(["stage", "wall s", "peak GPU memory GiB"], [
        [f"train cnn_cifar10_10pc seed {seed}", train.seconds, train.peak_gib],
        [f"{', '.join(methods)} x {len(epochs)} checkpoints", tda.seconds, tda.peak_gib]]),
        cifar_train_s=train.seconds, cifar_tda_s=tda.seconds, cifar_peak_gib=tda.peak_gib)
    return train.seconds + tda.seconds * (5 / len(epochs))


def vit(report: Report, device: str, quick: bool) -> float | None:
    weights, items = ("random-tiny", "4") if quick else ("random-base", "32")
    with Stage(device) as stage:
        result = script(["benchmarks/bench_vit.py", "--vit-weights", weights, "--device", device, "--items", items])
    stages = {m[1].strip(): float(m[2]) for m in re.finditer(r"stage (.+?)\s+(\d+) s", result.stdout)}
    report.section(f"ViT unit costs (`bench_vit.py --vit-weights {weights} --device {device}`)",
                   f"```\n{result.stdout.strip() or result.stderr.strip()[-2000:]}\n```\n({stage.seconds:.0f} s)",
                   vit_stages_s=stages, vit_ok=result.returncode == 0)
    return sum(stages.values()) if stages else None


def estimates(report: Report, main: dict, cifar_seed_s: float | None, vit_seed_s: float | None) -> None:
    """Whole-grid wall times on one such device, from the measured seeds; LOO dominates and grows as N²."""

    mnist_seed = main["per_seed_s"] * 5 / main["epochs"]
    rows, total = [], 0.0
    for task, base in (("mnist3", mnist_seed), ("cifar10", cifar_seed_s)):
        if base is None:
            continue
        for n in TASKS[task].sizes:
            seconds = 10 * base * (n / 10) ** 2
            total += seconds
            rows.append([f"cnn_{task}_{n}pc, 10 seeds", seconds / 60])
    rows.append(["whole CNN grid (cnn, both tasks, all sizes)", total / 60])
    if vit_seed_s is not None:
        rows.append(["ViT experiment (bench_vit's model), 10 seeds of mnist3_10pc", 10 * vit_seed_s / 60])
    report.section("Estimated wall times on one such device", table(["what", "minutes"], rows) + "\n\nFrom the "
                   "measured per-seed times (training + every method, 5 checkpoints), scaled by (N/10)² for larger "
                   "train sets (LOO's cost: N+1 models x N/32 steps per epoch; an upper bound for the other methods); "
                   "the ViT from bench_vit's per-stage estimates.", grid_minutes=total / 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder for gpu_check.md and gpu_check.json")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true",
                        help="2 seeds, 1 checkpoint, one method per code path, small ViT (CPU smoke run)")
    parser.add_argument("--work", type=Path, default=None, help="outputs of the runs (default: a temporary folder)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit(f"error: --device {args.device} but torch {torch.__version__} sees no CUDA device; allowed here: cpu")
    root = args.work or Path(tempfile.mkdtemp(prefix="gpu_check_"))
    os.environ["BAYESTDA_OUTPUT_ROOT"] = str(root / "device_run")
    os.environ.setdefault("BAYESTDA_SUBSET_DIR", str(root / "data"))
    report = Report(args.out, f"GPU check ({'quick, ' if args.quick else ''}{args.device})")
    start = time.perf_counter()
    environment(report, args.device)
    device_tests(report, args.device, args.quick)
    main_numbers = main_experiment(report, args.device, args.quick, root)
    launcher(report, args.device, args.quick, root)
    cifar_seed = cifar(report, args.device, args.quick)
    vit_seed = vit(report, args.device, args.quick)
    estimates(report, main_numbers, cifar_seed, vit_seed)
    report.section("Total", f"{time.perf_counter() - start:.0f} s for the whole check.",
                   total_s=time.perf_counter() - start)
    if args.work is None:
        shutil.rmtree(root, ignore_errors=True)
    print((args.out / "gpu_check.md").read_text())


if __name__ == "__main__":
    main()
