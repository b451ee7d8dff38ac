"""TRAK on one model: the same scores as its definition computed independently in float64 (the margin's own
autograd gradients, an explicit projection matrix and (ΦᵀΦ)⁺), for k below and above the number of train items;
out-of-range projection dimensions refused in one line; k recorded with every file."""

import os
import subprocess
import sys

import pytest
import torch
from references import checkpoint_data, trak_reference

from bayestda import provenance
from bayestda.attribution import CheckpointContext, TrakSettings, get, trak
from bayestda.attribution.trak import projection_rows
from bayestda.core.errors import BayesTDAError
from bayestda.core.paths import REPO_ROOT
from bayestda.scores import files as scores
from bayestda.scores.pipeline import run_scores

SEED = 446


@pytest.fixture(scope="module")
def checkpoint(trained_seed, experiment):
    return checkpoint_data(experiment, SEED, 14, 12)


@pytest.mark.parametrize("dim", [16, 256])  # below and above the 30 train items
def test_trak_equals_its_definition_in_float64(checkpoint, dim):
    net, params, train, test = checkpoint
    settings = TrakSettings(dim=dim)
    ctx = CheckpointContext(net, params, train, test, SEED, 15, dtype=torch.float64)
    ours = trak(ctx, settings)

    reference = trak_reference(net, params, train, test, settings)

    scale = reference.abs().max()
    assert ours.shape == (len(train), len(test))
    assert (ours - reference).abs().max() <= 1e-7 * scale


def test_projection_does_not_depend_on_how_its_rows_are_drawn():
    settings = TrakSettings(dim=200)
    whole = projection_rows(settings, 0, 200, 50, torch.float32, "cpu")
    parts = torch.cat([projection_rows(settings, a, b, 50, torch.float32, "cpu") for a, b in ((0, 70), (70, 130), (130, 200))])
    assert torch.equal(whole, parts)
    assert whole.std().item() == pytest.approx(200**-0.5, rel=0.05)


@pytest.mark.parametrize("dim", [0, -3, 10**6])
def test_projection_dimensions_out_of_range_are_refused(checkpoint, dim):
    net, params, train, test = checkpoint
    ctx = CheckpointContext(net, params, train, test, SEED, 15)
    with pytest.raises(BayesTDAError, match=f"TRAK projection dimension {dim} is out of range; allowed: 1..65536"):
        trak(ctx, TrakSettings(dim=dim))
    with pytest.raises(BayesTDAError, match="exceeds the model's 50 trainable parameters"):
        TrakSettings(dim=100).check(num_params=50)


@pytest.mark.slow
def test_the_script_flag_refuses_a_bad_dimension_in_one_line(trained_seed):
    result = subprocess.run([sys.executable, "tda_cnn_scripts/run_cnn_all.py", "--methods", "trak", "--trak-dim", "0"],
                            cwd=REPO_ROOT, capture_output=True, text=True, env=dict(os.environ))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == ["error: argument --trak-dim: 0 is out of range; allowed: 1..65536"]


def test_trak_files_record_k_and_another_k_makes_them_stale(trained_seed, experiment):
    """Settings travel with the call: k = 32 for this run only; the registry keeps its default."""
    run_scores(experiment, SEED, ["trak"], epochs=[14], show_progress=False, settings={"trak": TrakSettings(dim=32)})
    path = experiment.scores_path("trak", SEED, 14)
    assert provenance.read(path)["inputs"]["settings"]["dim"] == 32
    assert get("trak").settings["dim"] == TrakSettings().dim  # nothing changed for the rest of the process
    assert scores.is_done(experiment, get("trak").with_settings(TrakSettings(dim=32)), SEED, 14)
    assert not scores.is_done(experiment, get("trak").with_settings(TrakSettings(dim=64)), SEED, 14)
    assert provenance.problem(path) is not None  # against the default k = 512: stale, as the analysis judges it
