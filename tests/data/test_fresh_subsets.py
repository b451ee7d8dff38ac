"""Replicates: a fresh training subset R >= 1 is a class-balanced draw from the full MNIST, named in the experiment,
its paths, records and commands; R = 0 stays the paper's subset."""

import numpy as np
import pytest
import torch

from bayestda.core.errors import BayesTDAError
from bayestda.core.paths import DATA_DIR
from bayestda.data.subsets import generate_subsets, load_experiment_data, load_subset_file, read_index_list, subset_path
from bayestda.experiments.commands import lds_command, training_command
from bayestda.experiments.experiment import Experiment
from bayestda.launch.stages import Request, plan


def test_a_fresh_subset_is_a_class_balanced_draw_from_the_full_mnist_the_same_for_the_same_seed(output_root):
    first = generate_subsets("mnist3", [10], subset_seed=1)
    assert [p.name for p in first] == ["train_subset_10pc_r1.pt", "test_subset_r1.pt"]
    train, test = load_experiment_data("mnist3", 10, subset_seed=1)
    assert train.y.bincount().tolist() == [10, 10, 10] and test.y.bincount().tolist() == [300, 300, 300]
    full = np.load(DATA_DIR / "mnist" / "mnist_full.npz")
    assert np.array_equal(full["train_labels"][train.idx.numpy()], train.y.numpy())  # indices into the full MNIST
    assert np.array_equal(full["test_labels"][test.idx.numpy()], test.y.numpy())
    again = torch.load(subset_path("mnist3", "train", 10, 1))
    generate_subsets("mnist3", [10], subset_seed=1)
    assert torch.equal(torch.load(subset_path("mnist3", "train", 10, 1))["idx"], again["idx"])  # reproducible
    other = generate_subsets("mnist3", [10], subset_seed=2)
    assert not torch.equal(torch.load(other[0])["idx"], again["idx"])
    assert load_subset_file("mnist3", "train", 10, 1)["subset_seed"] == 1


def test_subset_seed_zero_is_the_papers_subset(output_root):
    generate_subsets("mnist3", [10])
    train, _ = load_experiment_data("mnist3", 10)
    assert np.array_equal(train.idx.numpy(), read_index_list("mnist3", "train", 10))
    assert "subset_seed" not in torch.load(subset_path("mnist3", "train", 10))


def test_the_subset_seed_names_the_experiment_its_paths_records_and_commands():
    experiment = Experiment.parse("cnn_mnist3_10pc_r1")
    assert experiment.subset_seed == 1 and experiment.name == "cnn_mnist3_10pc_r1"
    assert experiment.model_dir(446).parts[-2] == "mnist3_10pc_r1"
    assert experiment.record_what("checkpoint")["experiment"] == "cnn_mnist3_10pc_r1"
    assert Experiment.from_record(experiment.record_what("checkpoint")) == experiment
    assert Experiment.parse("cnn_mnist3_10pc").subset_seed == 0 and Experiment.parse("cnn_mnist3_10pc").name == \
        "cnn_mnist3_10pc"
    assert training_command(experiment, 446).endswith("--seed_id 0 --subset-seed 1")
    assert "--experiment cnn_mnist3_10pc_r1" in lds_command(experiment, 100)
    jobs = plan(Request((experiment,)))
    train = [j for j in jobs if j.stage == "train"]
    assert all("--subset-seed" in j.commands[0] for j in train) and "_r1" in str(train[0].outputs[0])


@pytest.mark.parametrize("name", ["cnn_mnist3_10pc_r0", "cnn_mnist3_10pc_r-1", "cnn_mnist3_10pc_rx"])
def test_a_bad_subset_seed_is_one_line(name):
    with pytest.raises(BayesTDAError, match="is not of the form"):
        Experiment.parse(name)
    with pytest.raises(BayesTDAError, match="must be an integer >= 0"):
        Experiment("cnn", "mnist3", 10, subset_seed=-1)


def test_a_fresh_cifar10_subset_says_what_a_user_with_the_full_data_would_pass(output_root):
    with pytest.raises(BayesTDAError, match="needs the full CIFAR-10, which is not shipped.*--source torchvision"):
        generate_subsets("cifar10", [10], subset_seed=1)
