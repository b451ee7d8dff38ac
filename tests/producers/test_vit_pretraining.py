"""The ViT backbone pretrained here (`mnist-pretrained`): made only from MNIST images no experiment uses,
reproducible from its command, resumable, loaded through the same code as a hub model, good enough that the
paper's LoRA recipe learns mnist3 from 30 images, and every bad weights folder refused in one line."""

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from bayestda.core.errors import BayesTDAError
from bayestda.core.io import file_hash
from bayestda.core.paths import REPO_ROOT
from bayestda.data.subsets import read_index_list
from bayestda.experiments.experiment import Experiment
from bayestda.models.vit import build_lora_vit, model_name_for, shipped_dir
from bayestda.training.vit_finetuning import finetune_seed
from bayestda.training.vit_pretraining import PretrainSettings, pretrain, unused_indices

pytestmark = pytest.mark.slow  # subprocesses, many seeds or models: `make test` only

SHIPPED = shipped_dir("mnist-pretrained")
SMOKE = ["--train-items", "256", "--epochs", "2", "--batch-size", "128"]


def run_script(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one line a refused command prints (exit 2, no traceback)."""
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


def test_pretraining_images_are_in_no_index_list():
    train = unused_indices("train")
    listed = set()
    for n in (10, 20, 50):
        listed |= set(read_index_list("mnist3", "train", n).tolist())
    listed |= set(read_index_list("mnist", "train", 10).tolist())
    assert len(train) == 60000 - len(listed) == 59751
    assert not listed & set(train.tolist())
    with np.load(REPO_ROOT / "data" / "mnist" / "mnist_full.npz") as f:
        assert set(f["train_labels"][train].tolist()) == set(range(10))  # all ten digits


def test_shipped_backbone_is_the_recorded_run():
    record = json.loads((SHIPPED / "pretraining.json").read_text())
    assert file_hash(SHIPPED / "model.safetensors") == record["sha256"]
    assert record["command"] == "python run_vit_pretraining.py"
    assert record["settings"] == asdict(PretrainSettings())
    assert record["wall_seconds"] <= 30 * 60
    assert record["history"]["heldout_accuracy"][-1] > 95.0
    assert (SHIPPED / "model.safetensors").stat().st_size <= 10 * 2**20
    config = json.loads((SHIPPED / "config.json").read_text())
    assert config["architectures"] == ["ViTModel"]  # the backbone alone: every seed draws its own classifier


def test_shipped_run_replays_its_first_steps(tmp_path):
    """The command in the record, run here, starts as the shipped run did (same losses to float rounding)."""
    record = json.loads((SHIPPED / "pretraining.json").read_text())
    replay = pretrain(tmp_path / "replay", PretrainSettings(), stop_after_steps=5, show_progress=False)
    np.testing.assert_allclose(replay["history"]["first_losses"], record["history"]["first_losses"][:5], rtol=1e-4)
    assert not (tmp_path / "replay").exists()


def test_names_keep_the_backbone_apart_from_the_papers():
    assert model_name_for("mnist-pretrained") == "vitmnist"
    assert model_name_for(str(SHIPPED)) == "vitmnist"
    assert model_name_for("google/vit-base-patch16-224-in21k") == "vit"
    experiment = Experiment.parse("vitmnist_mnist3_10pc")
    assert experiment.backbone == "mnist-pretrained"
    assert experiment.family.backbone_fingerprint(experiment) == file_hash(SHIPPED / "model.safetensors")


def test_paper_recipe_learns_mnist3_on_the_backbone(mnist3_subsets):
    """One seed of the paper's LoRA recipe (15 steps on 30 images): far above the random backbone's 33%."""
    metrics = finetune_seed(Experiment("vitmnist", "mnist3", 10), 446)
    assert metrics["checkpoints"]["14"]["test_accuracy"] > 95.0


def test_pretraining_is_reproducible_and_resumes(tmp_path):
    """Two runs give the same bytes; a run killed after its first epoch resumes to the same bytes."""
    whole = run_script("run_vit_pretraining.py", *SMOKE, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-2000:]
    again = run_script("run_vit_pretraining.py", *SMOKE, "--out", str(tmp_path / "whole"))
    assert "finished backbone weights exist" in error_line(again) and "--overwrite" in error_line(again)
    killed = run_script("run_vit_pretraining.py", *SMOKE, "--out", str(tmp_path / "resumed"),
                        env={"BAYESTDA_KILL_AT_WRITE": "2"})
    assert killed.returncode == -9 and not (tmp_path / "resumed").exists()
    assert (tmp_path / ".resumed.partial.pt").exists()
    resumed = run_script("run_vit_pretraining.py", *SMOKE, "--out", str(tmp_path / "resumed"))
    assert resumed.returncode == 0 and "resuming the pretraining after epoch 0" in resumed.stderr
    assert file_hash(tmp_path / "resumed" / "model.safetensors") == file_hash(tmp_path / "whole" / "model.safetensors")
    assert not (tmp_path / ".resumed.partial.pt").exists()
    net = build_lora_vit(str(tmp_path / "whole"))  # a local folder loads as a hub model does
    assert net(torch.zeros(2, 3, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize("flags, message", [
    (["--image-size", "30", "--patch-size", "7"], "--image-size 30 does not fit --patch-size 7"),
    (["--hidden-size", "100", "--heads", "3"], "--hidden-size 100 is not a multiple of --heads 3"),
])
def test_pretraining_refuses_impossible_architectures(flags, message, tmp_path):
    assert message in error_line(run_script("run_vit_pretraining.py", *flags, "--out", str(tmp_path / "b")))


def _weights_folder(tmp_path: Path, **config_changes) -> Path:
    folder = tmp_path / "weights"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_bytes((SHIPPED / name).read_bytes())
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **config_changes}))
    return folder


@pytest.mark.parametrize("breakage, message", [
    ("no config", "has no config.json"),
    ("no weights", "has no model weights"),
    ("image size", "image_size 30 does not fit patch_size 7"),
    ("grey", "num_channels 1, but the images are RGB"),
])
def test_bad_weights_folders_are_refused_in_one_line(breakage, message, tmp_path, mnist3_subsets):
    changes = {"image size": {"image_size": 30}, "grey": {"num_channels": 1}}.get(breakage, {})
    folder = _weights_folder(tmp_path, **changes)
    if breakage == "no config":
        (folder / "config.json").unlink()
    if breakage == "no weights":
        (folder / "model.safetensors").unlink()
    with pytest.raises(BayesTDAError, match=message):
        build_lora_vit(str(folder))
    line = error_line(run_script("run_vit_finetuning.py", "--task", "mnist3", "--num_per_class", "10", "--seed_id", "0",
                                 "--vit-weights", str(folder), "--device", "cpu"))
    assert message in line and str(folder) in line
