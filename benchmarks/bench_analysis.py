"""The analysis stage now against a reference version's, in the same run: its wall time as a ratio.

    python benchmarks/bench_analysis.py                      # against bayestda 0.4.0 (ac74713), cnn_mnist3_10pc
    python benchmarks/bench_analysis.py --reference <commit> --rounds 3

Needs the experiment's score files and LDS models (make reproduce). The reference is checked out in a temporary
git worktree; both versions read the same models and scores (linked into a scratch output root each) and write
their results there, alternately (reference, current, reference, ...), so that the machine's drift hits both. The
stage is what run_all.py's analysis job runs: run_compute_pvalues.py, then run_correlation_analysis.py. Writes
benchmarks/bench_analysis.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REFERENCE = "ac74713"  # bayestda 0.4.0: the analysis before every test, the hierarchical bootstrap and the studies
SCRIPTS = ("run_compute_pvalues.py", "run_correlation_analysis.py")


def stage_seconds(code: Path, experiment: str, scratch: Path) -> float:
    """Wall seconds of the analysis stage of `code` (a checkout) on the shared models and scores."""
    env = {**os.environ, "BAYESTDA_OUTPUT_ROOT": str(scratch), "BAYESTDA_SUBSET_DIR": str(REPO / "data"),
           "PYTHONPATH": str(code)}
    started = time.perf_counter()
    for script in SCRIPTS:
        subprocess.run([sys.executable, str(code / script), "--experiment", experiment], cwd=code, env=env,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def scratch_root(parent: Path, name: str) -> Path:
    """An output root that shares this checkout's models and scores and has its own results."""
    root = parent / name
    root.mkdir()
    for folder in ("models", "tda_scores"):
        (root / folder).symlink_to(REPO / folder)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="cnn_mnist3_10pc")
    parser.add_argument("--reference", default=REFERENCE)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        worktree = tmp / "reference"
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.reference], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            times: dict[str, list[float]] = {"reference": [], "current": []}
            for round_ in range(args.rounds):
                for name, code in (("reference", worktree), ("current", REPO)):
                    seconds = stage_seconds(code, args.experiment, scratch_root(tmp, f"{name}_{round_}"))
                    times[name].append(seconds)
                    print(f"round {round_ + 1}: {name} {seconds:.1f} s", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO, check=False)
    best = {name: min(values) for name, values in times.items()}
    result = {"experiment": args.experiment, "reference": args.reference, "seconds": times,
              "ratio_current_to_reference": best["current"] / best["reference"], "cores": os.cpu_count()}
    (REPO / "benchmarks" / "bench_analysis.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"analysis stage of {args.experiment}: current {best['current']:.1f} s, reference {args.reference} "
          f"{best['reference']:.1f} s (ratio {result['ratio_current_to_reference']:.2f}, best of {args.rounds})")


if __name__ == "__main__":
    main()
