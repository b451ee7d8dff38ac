"""A study runs its experiments through the launcher's stages, resumes after a kill, and its table is the
experiments' own methods.csv rows with the settings they vary (the suite's study: two tiny experiments)."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from bayestda import provenance
from bayestda.core.errors import BayesTDAError
from bayestda.data.subsets import generate_subsets
from bayestda.experiments.experiment import Experiment
from bayestda.experiments.studies import STUDIES, get_study, settings_of
from bayestda.launch.estimates import MEASURED, estimate
from bayestda.results.study import TABLE, study_dir

pytestmark = pytest.mark.slow


@pytest.fixture
def fresh_root(tmp_path, monkeypatch, mnist3_subsets):
    generate_subsets("mnist", [10])
    monkeypatch.setenv("BAYESTDA_OUTPUT_ROOT", str(tmp_path / "out"))
    return tmp_path / "out"


def run_study(*flags, wait=True):
    command = [sys.executable, "run_study.py", "--study", "tiny", "--seed_ids", "0,1", "--workers", "2", *flags]
    if wait:
        return subprocess.run(command, capture_output=True, text=True)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_a_study_resumes_after_a_kill_and_its_table_is_its_experiments_rows(fresh_root):
    study = get_study("tiny")
    first, second = study.parsed()
    launcher = run_study(wait=False)
    deadline = time.time() + 300
    while provenance.read(first.metrics_path(446)) is None and time.time() < deadline:  # the seed's run recorded:
        time.sleep(0.05)  # (metrics.json and its record come last; a kill before them makes the rerun retrain it)
    os.killpg(launcher.pid, signal.SIGKILL)
    launcher.wait()
    stamp = first.checkpoint_path(446, 14).stat().st_mtime_ns
    result = run_study()
    assert result.returncode == 0, result.stderr[-2000:]
    assert first.checkpoint_path(446, 14).stat().st_mtime_ns == stamp  # finished work is not redone
    table = pd.read_csv(study_dir(study) / TABLE)
    assert list(table["experiment"].unique()) == [first.name, second.name]
    for experiment in (first, second):
        own = pd.read_csv(experiment.analysis_dir(study.methods, [446, 724]) / "methods.csv")
        rows = table[table["experiment"] == experiment.name].reset_index(drop=True)
        pd.testing.assert_frame_equal(rows[own.columns], own, check_dtype=False)
    assert table.loc[table["experiment"] == second.name, "width"].unique().tolist() == [0.5]
    assert {"lds_mean", "lds_within_class_mean_cond_lo", "fraction_p_below_0.05_same_class"} <= set(table.columns)
    assert {f"fraction_p_below_0.05_{test}" for test in ("z", "t", "sign", "predictive")} <= set(table.columns)
    assert (study_dir(study) / "metrics_by_setting.png").exists() and (study_dir(study) / "mean_p_by_k.png").exists()
    assert provenance.is_current(study_dir(study) / TABLE)
    again = run_study()
    assert again.returncode == 0 and "wrote" in again.stdout


def test_every_defined_study_names_registered_experiments_and_their_settings():
    for study in STUDIES.values():
        for experiment in study.parsed():
            assert set(study.varied) <= set(settings_of(experiment))
    fragility = {e.name: settings_of(e) for e in get_study("fragility").parsed()}
    assert fragility["cnn-wd0_mnist3_10pc"]["weight_decay"] == 0.0 and fragility["cnn3_mnist3_10pc"]["depth"] == 3
    assert fragility["cnn-doublewidth_mnist3_10pc"]["width"] == 2.0
    assert estimate(Experiment.parse("cnn_mnist3_20pc"), 225_034).cpu_s > estimate(
        Experiment.parse("cnn_mnist3_10pc"), 225_034).cpu_s
    cifar = estimate(Experiment.parse("cnn_cifar10_10pc"), MEASURED["cifar10"].params)
    assert cifar.measured and cifar.per_checkpoint_s == pytest.approx(
        MEASURED["cifar10"].retraining_per_checkpoint_s + MEASURED["cifar10"].other_methods_per_checkpoint_s)
    larger = estimate(Experiment.parse("cnn_cifar10_20pc"), MEASURED["cifar10"].params)
    assert not larger.measured and larger.cpu_s > cifar.cpu_s and larger.gpu_s < larger.cpu_s
    allowed = "fragility, paper-mnist3, paper, replicate, data-size, samplers, tiny"
    with pytest.raises(BayesTDAError, match=f"--study 'nope'; allowed: {allowed}"):
        get_study("nope")
