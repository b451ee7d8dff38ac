"""Score files: the paper's CSV layout, one-call loading, skip-if-done scripts, clear errors."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bayestda.core.errors import BayesTDAError
from bayestda.core.paths import REPO_ROOT
from bayestda.data.subsets import read_index_list
from bayestda.scores import files as scores


def run_script(script, *flags, cwd=REPO_ROOT):
    return subprocess.run([sys.executable, str(REPO_ROOT / script), *flags], cwd=cwd, capture_output=True, text=True,
                          env=os.environ.copy())


@pytest.fixture(scope="module")
def gd_scores(trained_seed, experiment):
    result = run_script("tda_cnn_scripts/run_cnn_gd_and_gc.py", "--ckpts", "14")
    assert result.returncode == 0, result.stderr
    return experiment


def test_scores_are_in_the_papers_csv_layout(gd_scores):
    frame = pd.read_csv(gd_scores.scores_path("gd", 446, 14))
    train_idx = read_index_list("mnist3", "train", 10)
    test_idx = read_index_list("mnist3", "test")
    assert list(frame.columns) == ["train_idx"] + [f"z_test_{i}" for i in test_idx]
    assert frame["train_idx"].tolist() == train_idx.tolist()
    assert frame.shape == (30, 901) and np.isfinite(frame.to_numpy()).all()


def test_load_returns_labelled_scores(gd_scores):
    frame = scores.load("cnn_mnist3_10pc", "gd", 446, 14)
    assert frame.index.name == "train_idx" and frame.shape == (30, 900)
    values, train_idx, test_idx = scores.load_array(gd_scores, "gc", 446, 14)
    assert values.shape == (30, 900) and np.abs(values).max() <= 1 + 1e-6
    assert test_idx.tolist() == read_index_list("mnist3", "test").tolist()


def test_finished_files_are_skipped_from_inside_the_scripts_folder(gd_scores):
    path = gd_scores.scores_path("gd", 446, 14)
    before = path.stat().st_mtime_ns
    result = run_script("tda_cnn_scripts/run_cnn_gd_and_gc.py", "--ckpts", "14", cwd=REPO_ROOT / "tda_cnn_scripts")
    assert result.returncode == 0, result.stderr
    assert path.stat().st_mtime_ns == before
    assert not list(path.parent.glob(".*.tmp"))


@pytest.mark.slow
def test_s_test_then_if_writes_both_variants_and_residuals(gd_scores):
    assert run_script("tda_cnn_scripts/run_cnn_s_test.py", "--ckpts", "14").returncode == 0
    inverse = gd_scores.scores_dir("if", 446) / "inverse_hvp_ckpt_14.pt"
    assert inverse.exists()
    assert run_script("tda_cnn_scripts/run_cnn_if.py", "--ckpts", "14").returncode == 0
    assert not inverse.exists()  # deleted once scored, unless --keep-inverse-hvp
    gd = scores.load(gd_scores, "gd", 446, 14).to_numpy()
    lissa = scores.load(gd_scores, "if", 446, 14).to_numpy()
    assert np.corrcoef(gd.ravel(), lissa.ravel())[0, 1] < -0.999  # docs/protocol.md: IF ≈ −4.84e-4 × GD
    assert (lissa.ravel() @ gd.ravel()) / (gd.ravel() @ gd.ravel()) == pytest.approx(-4.84e-4, rel=0.02)
    residuals = pd.read_csv(gd_scores.scores_dir("if_converged", 446) / "residuals_ckpt_14.csv")
    assert len(residuals) == 30 and residuals["relative_residual"].max() < 1e-4


def test_if_without_stored_vectors_names_the_s_test_command(gd_scores):
    result = run_script("tda_cnn_scripts/run_cnn_if.py", "--ckpts", "13")
    assert result.returncode == 2
    assert "run: python tda_cnn_scripts/run_cnn_s_test.py --arch cnn --task mnist3 --num_per_class 10 --seed_id 0" in result.stderr


def test_missing_scores_name_the_command(gd_scores):
    with pytest.raises(BayesTDAError, match="run: python tda_cnn_scripts/run_cnn_ats.py .* --seed_id 3"):
        scores.load(gd_scores, "ats", 296, 14)


def test_missing_checkpoint_names_the_training_command(mnist3_subsets):
    result = run_script("tda_cnn_scripts/run_cnn_gd_and_gc.py", "--seed_id", "9", "--ckpts", "14")
    assert result.returncode == 2
    assert "run: python run_cnn_training.py --arch cnn --task mnist3 --num_per_class 10 --seed_id 9" in result.stderr
