"""The grid launcher: a plan in stage order, resumable local runs, and the faults a long grid meets.

Each test runs the real scripts as subprocesses, in its own output root, on the appendix experiment
cnn_mnist_10pc (100 train items, 10 test items: the same code as the paper's grid, at a test's cost).
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pandas as pd
import pytest

from bayestda.attribution import default_methods
from bayestda.data.subsets import generate_subsets
from bayestda.experiments.experiment import Experiment
from bayestda.launch.local import make_slots, run_local
from bayestda.launch.stages import STAGE_NAMES, Request, grid_experiments, plan
from bayestda.scores.pipeline import run_scores
from bayestda.training.ensemble import train_seed

pytestmark = pytest.mark.slow  # subprocesses, many seeds or models: `make test` only

EXPERIMENT = Experiment("cnn", "mnist", 10)


@pytest.fixture(scope="module")
def appendix_subsets(mnist3_subsets):
    generate_subsets("mnist", [10])


@pytest.fixture
def fresh_root(tmp_path, monkeypatch, appendix_subsets):
    """An empty output root sharing the session's generated subsets."""
    monkeypatch.setenv("BAYESTDA_OUTPUT_ROOT", str(tmp_path / "out"))
    return tmp_path / "out"


def run_all(*flags, wait=True):
    command = [sys.executable, "run_all.py", "--experiments", EXPERIMENT.name, "--lds-subsets", "0", *flags]
    if wait:
        return subprocess.run(command, capture_output=True, text=True)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_the_full_grid_plans_every_job_in_stage_order_and_no_two_jobs_share_an_output(fresh_root):
    jobs = plan(Request(tuple(grid_experiments(None, True)), tuple(default_methods()), lds_subsets=0, damping=False))
    per_stage = Counter(j.stage for j in jobs)
    experiments = 2 * (3 + 6)  # cnn and vit; mnist3 sizes 10/20/50, cifar10 sizes 10..60
    assert per_stage == {"train": experiments * 10, "inverse_hvp": experiments * 10, "if": experiments * 10,
                         "scores": experiments * 10 * 4, "analysis": experiments}
    assert [STAGE_NAMES.index(j.stage) for j in jobs] == sorted(STAGE_NAMES.index(j.stage) for j in jobs)
    outputs = [path for job in jobs for path in job.outputs]
    assert len(outputs) == len(set(outputs))  # two jobs never write the same file
    by_name = {j.name: j for j in jobs}
    assert by_name["cnn_cifar10_60pc/470/if"].needs == ("cnn_cifar10_60pc/470/train", "cnn_cifar10_60pc/470/s_test")
    assert len(by_name["vit_mnist3_50pc/analysis"].needs) == 10 * 6  # train, 4 score scripts and IF, per seed


def test_dry_run_counts_jobs_per_stage_and_what_is_done(fresh_root):
    result = run_all("--methods", "gd,gc", "--seed_ids", "0,1", "--dry-run")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:] if line and not line.startswith(" ")}
    assert rows["train"] == ["2", "0", "2"] and rows["scores"] == ["2", "0", "2"] and rows["analysis"] == ["1", "0", "1"]
    assert "run_cnn_training.py --arch cnn --task mnist --num_per_class 10 --seed_id 0" in result.stdout


def test_local_launcher_runs_the_plan_and_a_rerun_does_nothing(fresh_root):
    jobs = plan(Request((EXPERIMENT,), ("gd", "gc"), (0, 1), lds_subsets=0))
    report = run_local(jobs, make_slots(None, 2), show_progress=False)
    assert not report.failed and len(report.succeeded) == len(jobs) == 5
    assert (EXPERIMENT.analysis_dir(["gd", "gc"], [446, 724]) / "summary.md").exists()
    again = run_local(plan(Request((EXPERIMENT,), ("gd", "gc"), (0, 1), lds_subsets=0)), make_slots(None, 2),
                      show_progress=False)
    assert again.succeeded == [] and len(again.skipped) == 5


def complete_score_files(method):
    """Every score file present loads whole: 100 train rows, 10 test columns (no partial output)."""
    paths = sorted((EXPERIMENT.scores_dir(method, 446)).glob("attribution_ckpt_*.csv"))
    for path in paths:
        frame = pd.read_csv(path)
        assert frame.shape == (100, 11), path
    return paths


def test_a_sigkilled_run_leaves_no_partial_output_and_a_rerun_finishes_only_what_is_missing(fresh_root):
    train_seed(EXPERIMENT, 446)
    run_scores(EXPERIMENT, 446, ["gd", "gc"], [10, 11], show_progress=False)  # the GD/GC job half-done
    launcher = run_all("--methods", "gd", "--seed_ids", "0", "--no-analysis", wait=False)
    deadline = time.time() + 120
    while not EXPERIMENT.scores_path("gd", 446, 12).exists() and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(launcher.pid, signal.SIGKILL)  # launcher, shell and script at once, mid-job
    launcher.wait()
    complete_score_files("gd")
    complete_score_files("gc")
    lock = fresh_root / ".locks" / "cnn_mnist_10pc__446__gd_and_gc.lock"
    assert lock.exists()  # left by the killed launcher: the rerun must take it over
    rerun = run_all("--methods", "gd", "--seed_ids", "0", "--no-analysis")
    assert rerun.returncode == 0, rerun.stderr
    assert len(complete_score_files("gd")) == 5 and len(complete_score_files("gc")) == 5
    log = (fresh_root / "logs" / "cnn_mnist_10pc__446__gd_and_gc.log").read_text()
    assert "skip checkpoint 10" in log and "skip checkpoint 11" in log  # finished work was not redone
    assert not list(EXPERIMENT.scores_dir("gd", 446).glob(".*.tmp")) and not lock.exists()


def test_a_failed_job_is_reported_by_name_with_its_log_and_the_others_go_on(fresh_root):
    for seed in (446, 724):
        train_seed(EXPERIMENT, seed)
    blocked = EXPERIMENT.scores_dir("gd", 724)  # a file where seed 724's score folder goes: its GD/GC job must fail
    blocked.parent.mkdir(parents=True)
    blocked.write_text("not a folder")
    result = run_all("--methods", "gd", "--seed_ids", "0,1")
    assert result.returncode == 1
    log = fresh_root / "logs" / "cnn_mnist_10pc__724__gd_and_gc.log"
    assert f"FAILED {EXPERIMENT.name}/724/gd_and_gc: see {log}" in result.stdout
    assert f"BLOCKED {EXPERIMENT.name}/analysis" in result.stdout
    assert len(complete_score_files("gd")) == 5  # seed 446 went on
