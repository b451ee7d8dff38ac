"""Shared fixtures: generated subsets and one real trained seed (cnn_mnist3_10pc, seed 446) in a temp root."""

from __future__ import annotations

import os

import pytest
import torch

from bayestda.data.subsets import generate_subsets
from bayestda.experiments.experiment import Experiment
from bayestda.scores.pipeline import run_scores
from bayestda.training.ensemble import train_seed

# Outputs of the whole test session go to a temporary root, never into the repository.
_ROOT = None
# The device of the tests marked `device` (BAYESTDA_TEST_DEVICE=cuda on a GPU machine; benchmarks/gpu_check.sh).
DEVICE = os.environ.get("BAYESTDA_TEST_DEVICE", "cpu")
# `make test` runs two pytest-xdist workers on the 2 cores: one torch thread each, in process and in the scripts
# they start (two 2-thread pools on 2 cores slow each other down many times over).
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[_variable] = "1"
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def device() -> str:
    """Where the tests marked `device` run their methods and trainers (default cpu)."""
    if DEVICE.startswith("cuda") and not torch.cuda.is_available():
        pytest.exit(f"BAYESTDA_TEST_DEVICE={DEVICE} but torch sees no CUDA device", returncode=2)
    return DEVICE


@pytest.fixture(scope="session", autouse=True)
def output_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("bayestda")
    os.environ["BAYESTDA_OUTPUT_ROOT"] = str(root / "out")
    os.environ["BAYESTDA_SUBSET_DIR"] = str(root / "data")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    return root


@pytest.fixture(scope="session")
def mnist3_subsets(output_root):
    generate_subsets("mnist3", [10])
    return output_root


@pytest.fixture(scope="session")
def experiment():
    return Experiment("cnn", "mnist3", 10)


@pytest.fixture(scope="session")
def trained_seed(mnist3_subsets, experiment):
    """The paper's seed 446 trained once for the whole session (about 6 s)."""
    return train_seed(experiment, 446)


@pytest.fixture(scope="session")
def small_run(output_root):
    """A small real run: the appendix's full-MNIST task (100 train, 10 test items), 3 seeds, 5 methods."""
    generate_subsets("mnist", [10])
    experiment = Experiment("cnn", "mnist", 10)
    seeds = [446, 724, 571]
    methods = ["ats", "if", "gd", "gc", "tracin"]
    for seed in seeds:
        train_seed(experiment, seed)
        run_scores(experiment, seed, methods)
    return experiment, seeds, methods


def pytest_collection_modifyitems(config, items):
    """A test of the small real run (3 seeds trained and scored) is slow by what it needs: `make test` runs it,
    `make test-fast` (the inner loop, under 2 minutes) does not."""
    for item in items:
        if "small_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
