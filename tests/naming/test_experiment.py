"""Experiments name everything; bad input gets one line naming the value and the allowed ones."""

import subprocess
import sys

import pytest
import torch

from bayestda.core.errors import BayesTDAError
from bayestda.core.paths import REPO_ROOT
from bayestda.experiments.experiment import PAPER_SEEDS, Experiment, check_seed_id, experiments_for, load_seeds


def test_seeds_file_holds_the_papers_ten_seeds_in_order():
    assert load_seeds() == list(PAPER_SEEDS) == [446, 724, 571, 296, 854, 968, 245, 374, 829, 470]
    assert torch.load(REPO_ROOT / "random_seeds.pt") == list(PAPER_SEEDS)


def test_experiment_names_epochs_and_paths():
    e = Experiment.parse("cnn_mnist3_10pc")
    assert (e.model, e.task, e.num_per_class, e.name) == ("cnn", "mnist3", 10, "cnn_mnist3_10pc")
    assert e.checkpoint_epochs == [10, 11, 12, 13, 14]
    assert Experiment("cnn3", "cifar10", 60).checkpoint_epochs == [25, 26, 27, 28, 29]
    assert e.checkpoint_path(446, 14).as_posix().endswith("models/cnn/mnist3_10pc/446/ckpt_epoch_14.pth")
    assert e.scores_path("gd", 446, 14).as_posix().endswith("tda_scores/cnn/gd/mnist3_10pc/446/attribution_ckpt_14.csv")


def test_no_flags_select_every_task_and_size_of_the_paper():
    names = [e.name for e in experiments_for("cnn", None, None)]
    assert names == ["cnn_mnist3_10pc", "cnn_mnist3_20pc", "cnn_mnist3_50pc"] + [f"cnn_cifar10_{n}pc" for n in range(10, 70, 10)]


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: Experiment("cnn", "svhn", 10), ["'svhn'", "mnist3, cifar10, mnist"]),
        (lambda: Experiment("resnet", "mnist3", 10), ["'resnet'", "cnn, cnn3"]),
        (lambda: Experiment("cnn", "mnist3", 30), ["30", "10, 20, 50"]),
        (lambda: check_seed_id(10), ["10", "0..9"]),
        (lambda: check_seed_id(-1), ["-1", "0..9"]),
        (lambda: Experiment("cnn", "mnist3", 10).check_checkpoint_epochs([9]), ["9", "10, 11, 12, 13, 14"]),
    ],
)
def test_bad_input_is_one_line_naming_value_and_allowed(call, words):
    with pytest.raises(BayesTDAError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_scripts_print_one_line_error_and_exit_2():
    result = subprocess.run([sys.executable, "run_cnn_training.py", "--task", "mnist3", "--num_per_class", "30"],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: num_per_class 30 is not available for task 'mnist3'; allowed: 10, 20, 50"


def test_the_whole_analysis_writes_the_experiments_folder_and_any_other_its_own():
    e = Experiment.parse("cnn_mnist3_10pc")
    whole = e.whole_analysis_methods
    assert "loo_corrected" in whole and "ekfac" in whole and len(whole) == len(set(whole))
    assert e.analysis_dir(whole) == e.analysis_dir(list(reversed(whole)), load_seeds()) == e.results_dir()
    assert e.analysis_dir(["gd", "if"]) == e.analysis_dir(["if", "gd"]) == e.results_dir() / "gd+if"
    assert e.analysis_dir(["gd", "if"], [724, 446]) == e.results_dir() / "gd+if_seeds_0-1"
    assert e.analysis_dir(whole, [446, 724]).parent == e.results_dir()
    many = e.analysis_dir(whole[:6])
    assert many.name.startswith("6_methods_") and many != e.analysis_dir(whole[1:7])


def test_the_data_size_studys_variants_match_the_optimisation_of_the_other_size():
    """30 images for 30 epochs take 60 images' optimiser steps; 60 images in a batch of 64 take 30 images' steps in
    full batches (steps = epochs x batches per epoch)."""
    def steps(name):
        experiment = Experiment.parse(name)
        items = experiment.num_per_class * len(experiment.spec.classes)
        return experiment.epochs * -(-items // experiment.family.recipe.batch_size)
    assert steps("cnn-e30_mnist3_10pc") == steps("cnn_mnist3_20pc") == 30
    assert steps("cnn-b64_mnist3_20pc") == steps("cnn_mnist3_10pc") == 15
    assert Experiment.parse("cnn-e30_mnist3_10pc").checkpoint_epochs == [25, 26, 27, 28, 29]
    assert Experiment.parse("cnn-b64_mnist3_20pc").family.variant()["batch_size"] == 64
    assert "epochs" not in Experiment.parse("cnn-wd0_mnist3_10pc").family.variant()  # the fragility records unchanged
    assert Experiment.parse("cnn_mnist3_10pc").family.variant() is None
