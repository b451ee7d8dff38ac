"""The GPU check cannot rot before a GPU is at hand: the same script runs here on the CPU (--quick) and
writes every section of its report with measured numbers."""

import json
import os
import subprocess

import pytest
import torch

from bayestda.core.paths import REPO_ROOT

pytestmark = pytest.mark.slow  # subprocesses, many seeds or models: `make test` only


def test_the_gpu_check_runs_on_the_cpu_and_reports_every_section(tmp_path, mnist3_subsets):
    out = tmp_path / "report"
    env = {**os.environ, "PYTHON": __import__("sys").executable, "BAYESTDA_TEST_DEVICE": "cpu"}
    result = subprocess.run(["bash", "benchmarks/gpu_check.sh", str(out), "--device", "cpu", "--quick",
                             "--work", str(tmp_path / "work")], cwd=REPO_ROOT, capture_output=True, text=True,
                            env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    report = (out / "gpu_check.md").read_text()
    for heading in ("## Machine", "## Tests on the device", "## The default experiment on cpu", "## The launcher",
                    "## One CIFAR-10 seed", "## ViT unit costs", "## Estimated wall times on one such device",
                    "## Total"):
        assert heading in report, heading
    numbers = json.loads((out / "gpu_check.json").read_text())
    assert numbers["device_tests_ok"] and numbers["launcher_ok"] and numbers["vit_ok"]
    assert set(numbers["score_diffs"]) >= {"loo", "gd", "if_converged"}
    assert max(numbers["score_diffs"].values()) < 1e-6  # the same code on the same CPU: equal up to rounding
    assert numbers["main_tda_per_seed_s"] > 0 and numbers["grid_minutes"] > 0
    assert 0 < min(numbers["mean_p_device"].values()) and max(numbers["mean_p_device"].values()) <= 1


def test_asking_for_cuda_without_a_gpu_is_one_line(tmp_path):
    if torch.cuda.is_available():
        return
    result = subprocess.run(["bash", "benchmarks/gpu_check.sh", str(tmp_path), "--device", "cuda"], cwd=REPO_ROOT,
                            capture_output=True, text=True, env={**os.environ, "PYTHON": __import__("sys").executable})
    assert result.returncode == 1 and result.stderr.strip().startswith("error: --device cuda but torch")
    assert len(result.stderr.strip().splitlines()) == 1
