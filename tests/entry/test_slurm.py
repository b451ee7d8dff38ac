"""SLURM launcher against a real cluster: the default experiment's 10 seeds for one method through SLURM
give the same scores as the local launcher (bitwise: each job gets the same number of threads).

Needs a running SLURM (`tests/slurm/start_slurm.sh` starts Debian's slurm-wlm + munge on this machine, as
`.ci/run` and `make test-slurm` do); skipped when `sinfo` finds no idle node.
"""

import shutil
import subprocess
import sys

import pandas as pd
import pytest

from bayestda.core.paths import output_root
from bayestda.experiments.experiment import Experiment, load_seeds

EXPERIMENT = Experiment("cnn", "mnist3", 10)


def slurm_is_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    result = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return result.returncode == 0 and ("idle" in result.stdout or "mix" in result.stdout)


pytestmark = [pytest.mark.slow, pytest.mark.skipif(not slurm_is_up(), reason="no SLURM cluster up (run tests/slurm/start_slurm.sh)")]


def launch(root, subsets, *flags):
    env = {**__import__("os").environ, "BAYESTDA_OUTPUT_ROOT": str(root), "BAYESTDA_SUBSET_DIR": str(subsets)}
    command = [sys.executable, "run_all.py", "--experiments", EXPERIMENT.name, "--methods", "gd", "--no-analysis",
               "--lds-subsets", "0", *flags]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)


def test_slurm_arrays_give_the_same_scores_as_the_local_launcher(tmp_path, mnist3_subsets):
    subsets = mnist3_subsets / "data"
    through_slurm = launch(tmp_path / "slurm", subsets, "--slurm", "--wait", "--cpus-per-job", "1", "--time", "20")
    assert through_slurm.returncode == 0, through_slurm.stdout + through_slurm.stderr
    assert "stage train: 10 jobs submitted" in through_slurm.stderr and "stage scores: 10 jobs submitted" in through_slurm.stderr
    shutil.copytree(tmp_path / "slurm" / "models", tmp_path / "local" / "models")  # the same checkpoints (training is
    local = launch(tmp_path / "local", subsets, "--workers", "2")  # bitwise reproducible, tested elsewhere): GD only
    assert local.returncode == 0, local.stdout + local.stderr
    for seed in load_seeds():
        for epoch in EXPERIMENT.checkpoint_epochs:
            for method in ("gd", "gc"):
                relative = EXPERIMENT.scores_path(method, seed, epoch).relative_to(output_root())
                a, b = pd.read_csv(tmp_path / "slurm" / relative), pd.read_csv(tmp_path / "local" / relative)
                pd.testing.assert_frame_equal(a, b, check_exact=True)
    again = launch(tmp_path / "slurm", subsets, "--slurm", "--wait")  # resumable: nothing left to submit
    assert again.returncode == 0 and "submitted" not in again.stderr
