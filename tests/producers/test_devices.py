"""The pipeline on a device (BAYESTDA_TEST_DEVICE, default cpu; cuda through benchmarks/gpu_check.sh): every
method through the stacked many-model trainer there equals the CPU loop to float rounding, and the per-seed
pipeline writes its files from there."""

import shutil

import numpy as np
import pytest
import torch

from bayestda.attribution import default_methods
from bayestda.core.paths import output_root
from bayestda.scores.files import load_array
from bayestda.scores.pipeline import compute, make_context, run_scores

pytestmark = pytest.mark.slow  # subprocesses, many seeds or models: `make test` only


@pytest.mark.device
def test_every_method_with_the_stacked_trainer_on_the_device_equals_the_cpu_loop(trained_seed, experiment, device):
    methods = default_methods()
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # full float32 convolutions: the comparison is of code paths, not precisions
    try:
        on_device = compute(make_context(experiment, 446, 14, strategy="stacked", device=device), methods)
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    on_cpu = compute(make_context(experiment, 446, 14, strategy="loop", device="cpu"), methods)
    for method in methods:
        ours, reference = on_device[method].cpu(), on_cpu[method]
        assert ours.device.type == "cpu" and ours.shape == reference.shape == (30, 900)
        assert (ours - reference).abs().max() <= 1e-4 * reference.abs().max(), method


@pytest.mark.device
def test_the_per_seed_pipeline_writes_scores_computed_on_the_device(trained_seed, experiment, device, tmp_path,
                                                                     monkeypatch):
    source = experiment.model_dir(446)
    monkeypatch.setenv("BAYESTDA_OUTPUT_ROOT", str(tmp_path))
    shutil.copytree(source, experiment.model_dir(446))  # the session's checkpoints, in a fresh output root
    assert output_root() == tmp_path
    run_scores(experiment, 446, ["gd", "if", "if_converged"], epochs=[14], device=device, show_progress=False)
    values, train_idx, test_idx = load_array(experiment, "if_converged", 446, 14)
    assert values.shape == (30, 900) and np.isfinite(values).all() and len(set(test_idx)) == 900
    residuals = experiment.scores_dir("if_converged", 446) / "residuals_ckpt_14.csv"
    assert residuals.exists()
