"""Faults a long run meets, tried with the real scripts on small real data: every output is either right or
refused. SIGKILL at several points of every stage, a full disk, stale inputs after retraining, and every kind
of corrupt input; each gets the rerun bitwise equal to an uninterrupted run, or one line naming the file, what
is wrong and the command that remakes it. docs/faults.md lists them."""

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bayestda import provenance
from bayestda.core.paths import REPO_ROOT
from bayestda.experiments.experiment import Experiment
from bayestda.models import build_cnn
from bayestda.training.checkpoints import record_training

pytestmark = pytest.mark.slow  # subprocesses, many seeds or models: `make test` only

MNIST3 = Experiment("cnn", "mnist3", 10)
SEED_FLAGS = ("--task", "mnist3", "--num_per_class", "10", "--seed_id", "0")
METHOD_SCRIPTS = ("loo", "ats", "gd_and_gc", "tracin", "s_test", "if")


def run(script, *flags, root: Path, kill_at: int | None = None):
    env = {**os.environ, "BAYESTDA_OUTPUT_ROOT": str(root)}
    env.pop("BAYESTDA_KILL_AT_WRITE", None)
    if kill_at is not None:
        env["BAYESTDA_KILL_AT_WRITE"] = str(kill_at)
    return subprocess.run([sys.executable, str(REPO_ROOT / script), *flags], cwd=REPO_ROOT, capture_output=True,
                          text=True, env=env, timeout=600)


def errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file() and "logs" not in p.parts}


def same_outputs(reference: Path, other: Path) -> None:
    """Every output bitwise equal (metrics.json and its record: equal but for the training's wall time; a score
    file's record: but for the seconds its method took)."""
    ours, theirs = files(other), files(reference)
    assert sorted(ours) == sorted(theirs)
    assert not [name for name in ours if name.endswith(".tmp")]
    for name, path in theirs.items():
        if name.endswith(("metrics.json", "metrics.json.json")):
            continue
        if name.endswith((".png", ".pdf")):
            continue  # figures carry creation dates; their existence is compared above
        if "/.records/" in name and "seconds" in json.loads(path.read_text()).get("made_with", {}):
            a, b = json.loads(path.read_text()), json.loads(ours[name].read_text())
            assert a["made_with"].pop("seconds") > 0 and b["made_with"].pop("seconds") > 0
            assert a == b, name
            continue
        assert path.read_bytes() == ours[name].read_bytes(), name
    for name in theirs:
        if name.endswith("metrics.json"):
            a, b = json.loads(theirs[name].read_text()), json.loads(ours[name].read_text())
            a.pop("wall_seconds"), b.pop("wall_seconds")
            assert a == b


@pytest.fixture(scope="module")
def reference(mnist3_subsets, tmp_path_factory):
    """Seed 446 of cnn_mnist3_10pc trained and scored by every per-method script (checkpoints 13, 14), uninterrupted."""
    root = tmp_path_factory.mktemp("reference")
    assert run("run_cnn_training.py", *SEED_FLAGS, root=root).returncode == 0
    for script in METHOD_SCRIPTS:
        result = run(f"tda_cnn_scripts/run_cnn_{script}.py", *SEED_FLAGS, "--ckpts", "13", "14", root=root)
        assert result.returncode == 0, result.stderr
    return root


def test_sigkill_at_several_points_of_every_stage_then_a_rerun_equals_an_uninterrupted_run(reference, tmp_path):
    root = tmp_path / "faulted"
    for kill_at in (1, 4):  # training: before the first checkpoint lands, then after two of them
        assert run("run_cnn_training.py", *SEED_FLAGS, root=root, kill_at=kill_at).returncode == -9
    assert run("run_cnn_training.py", *SEED_FLAGS, root=root).returncode == 0
    for script in METHOD_SCRIPTS:
        flags = (*SEED_FLAGS, "--ckpts", "13", "14")
        # killed before anything is written (once: every script writes through the same atomic writer), then
        # with one file and its record written and the next cut short (every script: each has its own skip logic)
        for kill_at in (1, 3) if script == "gd_and_gc" else (3,):
            killed = run(f"tda_cnn_scripts/run_cnn_{script}.py", *flags, root=root, kill_at=kill_at)
            assert killed.returncode == -9, (script, kill_at, killed.stderr[-500:])
        assert run(f"tda_cnn_scripts/run_cnn_{script}.py", *flags, root=root).returncode == 0, script
    same_outputs(reference, root)


def test_sigkill_during_the_analysis_then_a_rerun_equals_an_uninterrupted_run(small_run, tmp_path):
    experiment, seeds, methods = small_run
    source = Path(os.environ["BAYESTDA_OUTPUT_ROOT"])
    roots = {}
    for name in ("straight", "faulted"):
        roots[name] = tmp_path / name
        for part in ("models", "tda_scores"):
            shutil.copytree(source / part / "cnn", roots[name] / part / "cnn")
    flags = ("--experiment", experiment.name, "--methods", ",".join(methods), "--seed_ids", "0,1,2")
    for script in ("run_compute_pvalues.py", "run_correlation_analysis.py"):
        assert run(script, *flags, root=roots["straight"]).returncode == 0
        for kill_at in (2, 9):
            assert run(script, *flags, root=roots["faulted"], kill_at=kill_at).returncode == -9
        assert run(script, *flags, root=roots["faulted"]).returncode == 0
    same_outputs(roots["straight"] / "results", roots["faulted"] / "results")


def test_two_launchers_at_once_run_each_job_once_and_equal_a_single_run(reference, tmp_path):
    flags = ("--experiments", "cnn_mnist3_10pc", "--methods", "tracin", "--seed_ids", "0", "--no-analysis", "--lds-subsets", "0",
             "--workers", "1")
    env = {**os.environ, "BAYESTDA_OUTPUT_ROOT": str(tmp_path)}
    launchers = [subprocess.Popen([sys.executable, "run_all.py", *flags], cwd=REPO_ROOT, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in launchers]
    assert all(p.returncode == 0 for p in launchers), outputs
    started = [line for _, err in outputs for line in err.splitlines() if "bayestda.launch.local: started" in line]
    assert len(started) == 2  # train and tracin, each by one launcher
    single = tmp_path / "single"  # one run of the script on the same checkpoints, at the launcher slot's threads
    shutil.copytree(tmp_path / "models", single / "models")
    threads = str(os.cpu_count() or 1)  # --workers 1: the slot has every core (TracIn is bitwise at equal threads)
    alone = subprocess.run([sys.executable, "tda_cnn_scripts/run_cnn_tracin.py", *SEED_FLAGS, "--ckpts", "13", "14"],
                           cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                           env={**env, "BAYESTDA_OUTPUT_ROOT": str(single), "OMP_NUM_THREADS": threads,
                                "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads})
    assert alone.returncode == 0, alone.stderr[-2000:]
    for epoch in MNIST3.checkpoint_epochs[-2:]:
        name = f"tda_scores/cnn/tracin/mnist3_10pc/446/attribution_ckpt_{epoch}.csv"
        assert (tmp_path / name).read_bytes() == (single / name).read_bytes()


def test_a_full_disk_gives_one_line_no_half_written_file_and_the_rerun_finishes(reference, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    checkpoint_bytes = (reference / "models/cnn/mnist3_10pc/446/ckpt_epoch_14.pth").stat().st_size
    size = f"size={(checkpoint_bytes + 200_000) // 1024}k"  # the checkpoint, and less than one score file more
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", size, "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.decode().strip()})")
    try:
        checkpoint = MNIST3.checkpoint_path(446, 14).relative_to(MNIST3.checkpoint_path(446, 14).parents[4])
        for name in (str(checkpoint), str(provenance.record_path(checkpoint))):
            (disk / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(reference / "models" / Path(name).relative_to("models"), disk / name)
        result = run("tda_cnn_scripts/run_cnn_gd_and_gc.py", *SEED_FLAGS, "--ckpts", "14", root=disk)
        assert result.returncode == 2 and len(errors(result)) == 1 and "Traceback" not in result.stderr
        assert "No space left on device" in errors(result)[0] and "rerun the same command" in errors(result)[0]
        scores = disk / "tda_scores" / "cnn"
        assert not list(scores.rglob("*.tmp")) and not list(scores.rglob("*.csv"))  # nothing half-written
        subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True)
        assert run("tda_cnn_scripts/run_cnn_gd_and_gc.py", *SEED_FLAGS, "--ckpts", "14", root=disk).returncode == 0
        for method in ("gd", "gc"):
            name = f"tda_scores/cnn/{method}/mnist3_10pc/446/attribution_ckpt_14.csv"
            assert (disk / name).read_bytes() == (reference / name).read_bytes()
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


@contextmanager
def outputs_at(root: Path):
    """This process's output root moved to `root` inside (provenance reads paths from it)."""
    before = os.environ["BAYESTDA_OUTPUT_ROOT"]
    os.environ["BAYESTDA_OUTPUT_ROOT"] = str(root)
    try:
        yield
    finally:
        os.environ["BAYESTDA_OUTPUT_ROOT"] = before


def retrain(root: Path, experiment: Experiment, seed: int, epoch: int) -> None:
    """Stand-in for retraining with another recipe: the checkpoint's weights change and it is recorded anew."""
    with outputs_at(root):
        checkpoint = experiment.checkpoint_path(seed, epoch)
        blob = torch.load(checkpoint)
        blob["model_state_dict"]["fc2.bias"] += 0.01
        torch.save(blob, checkpoint)
        record_training(experiment, seed, checkpoint, "checkpoint", epoch)


def test_retraining_a_seed_makes_its_scores_stale_and_the_scripts_recompute_them(reference, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(reference, root)
    gd = root / "tda_scores/cnn/gd/mnist3_10pc/446/attribution_ckpt_14.csv"
    with outputs_at(root):
        assert provenance.is_current(gd)
    retrain(root, MNIST3, 446, 14)
    with outputs_at(root):
        assert str(provenance.problem(gd)).startswith("stale: made from other checkpoint")
    plan = subprocess.run([sys.executable, "run_all.py", "--experiments", "cnn_mnist3_10pc", "--methods", "gd",
                           "--seed_ids", "0", "--lds-subsets", "0", "--dry-run"], cwd=REPO_ROOT, capture_output=True, text=True,
                          env={**os.environ, "BAYESTDA_OUTPUT_ROOT": str(root)})
    assert "cnn_mnist3_10pc/446/gd_and_gc:" in plan.stdout  # the launcher counts the stale job as to run
    rerun = run("tda_cnn_scripts/run_cnn_gd_and_gc.py", *SEED_FLAGS, "--ckpts", "14", root=root)
    assert rerun.returncode == 0 and "recomputing gd at checkpoint 14: stale" in rerun.stderr
    assert gd.read_bytes() != (reference / gd.relative_to(root)).read_bytes()
    skipped = run("tda_cnn_scripts/run_cnn_gd_and_gc.py", *SEED_FLAGS, "--ckpts", "14", root=root)
    assert "skip checkpoint 14" in skipped.stderr


def corrupt_checkpoint(root: Path, how: str) -> Path:
    path = root / MNIST3.checkpoint_path(446, 14).relative_to(MNIST3.checkpoint_path(446, 14).parents[4])
    if how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "foreign":  # a real checkpoint of another architecture, recorded as if it were this one's

        torch.save({"model_state_dict": build_cnn("cnn3", 1).state_dict()}, path)
        provenance.record_path(path).unlink()
    return path


@pytest.mark.parametrize("how, message", [
    ("truncated", "cannot be read"),
    ("empty", "cannot be read"),
    ("foreign", "does not fit the cnn model"),
])
def test_a_corrupt_checkpoint_is_one_line_naming_it_and_the_training_command(reference, tmp_path, how, message):
    root = tmp_path / "run"
    shutil.copytree(reference / "models", root / "models")
    path = corrupt_checkpoint(root, how)
    result = run("tda_cnn_scripts/run_cnn_gd_and_gc.py", *SEED_FLAGS, "--ckpts", "14", "--overwrite", root=root)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = errors(result)
    assert str(path) in line and message in line
    assert "run_cnn_training.py --arch cnn --task mnist3 --num_per_class 10 --seed_id 0 --overwrite" in line


def test_a_subset_file_of_the_wrong_shape_is_one_line_with_the_generation_command(reference, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(Path(os.environ["BAYESTDA_SUBSET_DIR"]) / "mnist3", data / "mnist3")
    path = data / "mnist3" / "train_subset_10pc.pt"
    blob = torch.load(path)
    blob["x"] = blob["x"][:, :, :20]
    torch.save(blob, path)
    env = {**os.environ, "BAYESTDA_SUBSET_DIR": str(data), "BAYESTDA_OUTPUT_ROOT": str(tmp_path / "out")}
    result = subprocess.run([sys.executable, "run_cnn_training.py", *SEED_FLAGS], cwd=REPO_ROOT, capture_output=True,
                            text=True, env=env)
    assert result.returncode == 2
    (line,) = errors(result)
    assert str(path) in line and "wrong shape" in line and "python run_subset_generation.py --task mnist3" in line


def test_inverse_hvp_vectors_of_another_checkpoint_are_refused(reference, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(reference, root)
    folder = root / "tda_scores/cnn/if/mnist3_10pc/446"
    run("tda_cnn_scripts/run_cnn_s_test.py", *SEED_FLAGS, "--ckpts", "13", "14", "--overwrite", root=root)
    for name in ("{}", ".records/{}.json"):  # the vectors of checkpoint 13, with their record, put in 14's place
        shutil.copy(folder / name.format("inverse_hvp_ckpt_13.pt"), folder / name.format("inverse_hvp_ckpt_14.pt"))
    result = run("tda_cnn_scripts/run_cnn_if.py", *SEED_FLAGS, "--ckpts", "14", "--overwrite", root=root)
    assert result.returncode == 2
    (line,) = errors(result)
    assert "inverse_hvp_ckpt_14.pt" in line and "made for" in line and "inverse_hvp_ckpt_13.pt" in line
    assert "run_cnn_s_test.py --arch cnn --task mnist3 --num_per_class 10 --seed_id 0 --overwrite" in line


def analysis_root(small_run, tmp_path) -> tuple[Path, Experiment, list]:
    experiment, seeds, methods = small_run
    source = Path(os.environ["BAYESTDA_OUTPUT_ROOT"])
    root = tmp_path / "run"
    for part in ("models", "tda_scores"):
        shutil.copytree(source / part / "cnn", root / part / "cnn")
    return root, experiment, seeds


@pytest.mark.parametrize("how, message", [
    ("retrained checkpoint", "stale: made from other checkpoint"),
    ("truncated", "changed since it was written"),
    ("NaN cell", "changed since it was written"),
    ("adopted NaN cell", "empty, NaN or non-numeric cells"),
    ("adopted non-numeric cell", "'abc'"),
    ("adopted missing column", "other test columns"),
    ("adopted extra column", "other test columns"),
    ("adopted other train items", "other train items"),
    ("unrecorded", "python -m bayestda.provenance adopt --experiment cnn_mnist_10pc"),
])
def test_a_corrupt_score_file_is_refused_with_one_line_and_no_result_is_written(small_run, tmp_path, how, message):
    root, experiment, seeds = analysis_root(small_run, tmp_path)
    path = root / experiment.scores_path("gd", 724, 12).relative_to(Path(os.environ["BAYESTDA_OUTPUT_ROOT"]))
    frame = pd.read_csv(path)
    if how == "retrained checkpoint":
        retrain(root, experiment, 724, 12)
    elif how == "truncated":
        path.write_text(path.read_text()[:-200])
    elif how.endswith("NaN cell"):
        frame.iloc[3, 4] = np.nan
        frame.to_csv(path, index=False)
    elif how.endswith("non-numeric cell"):
        frame = frame.astype(object)
        frame.iloc[2, 2] = "abc"
        frame.to_csv(path, index=False)
    elif how.endswith("missing column"):
        frame.drop(columns=frame.columns[5]).to_csv(path, index=False)
    elif how.endswith("extra column"):
        frame.assign(z_test_99999=1.0).to_csv(path, index=False)
    elif how.endswith("other train items"):
        frame.loc[0, "train_idx"] = 123456
        frame.to_csv(path, index=False)
    if how.startswith(("adopted", "unrecorded")):
        provenance.record_path(path).unlink()
    if how.startswith("adopted"):
        adopted = subprocess.run([sys.executable, "-m", "bayestda.provenance", "adopt", "--experiment", experiment.name,
                                  "--methods", "gd"], cwd=REPO_ROOT, capture_output=True, text=True,
                                 env={**os.environ, "BAYESTDA_OUTPUT_ROOT": str(root)})
        assert adopted.returncode == 0 and "recorded 1 unrecorded" in adopted.stdout, adopted.stderr
    result = run("run_compute_pvalues.py", "--experiment", experiment.name, "--methods", "gd", "--seed_ids", "0,1,2",
                 root=root)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = errors(result)
    assert message in line and "run:" in line
    assert not (root / "results").exists()
