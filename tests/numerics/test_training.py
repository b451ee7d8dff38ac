"""Training reproduces the paper bitwise; the many-model trainer equals separate runs."""

import json

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from bayestda.data.subsets import load_experiment_data
from bayestda.models import build_cnn
from bayestda.numerics.many_models import AdamSettings, LoopTrainer, StackedTrainer, paper_batch_order, train_many
from bayestda.training.checkpoints import load_checkpoint
from bayestda.training.ensemble import train_seed


def reference_training(train, seed, epochs):
    """docs/protocol.md's CNN training, written out by hand: seed, model, DataLoader, Adam, mean loss."""
    torch.manual_seed(seed)
    model = build_cnn("cnn", 1)
    criterion = nn.CrossEntropyLoss(reduction="none")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, weight_decay=0.005)
    loader = DataLoader(train, batch_size=32, shuffle=True)
    states = {}
    for epoch in range(epochs):
        for inputs, labels, _ in loader:
            optimizer.zero_grad()
            loss = criterion(model(inputs), labels).mean()
            loss.backward()
            optimizer.step()
        if epoch >= epochs - 5:
            states[epoch] = {k: v.clone() for k, v in model.state_dict().items()}
    return states


def test_checkpoints_are_bitwise_the_reference_loop(trained_seed, experiment):
    train, _ = load_experiment_data("mnist3", 10)
    reference = reference_training(train, 446, 15)
    for epoch in experiment.checkpoint_epochs:
        blob = torch.load(experiment.checkpoint_path(446, epoch))
        assert set(blob) == {"epoch", "model_state_dict", "optimizer_state_dict", "loss"}
        assert blob["epoch"] == epoch
        for name, value in reference[epoch].items():
            assert torch.equal(blob["model_state_dict"][name], value), (epoch, name)


def test_seed_446_reaches_the_papers_measured_accuracy(trained_seed, experiment):
    """docs/protocol.md: the paper's code gave 95.67% (861/900) and mean test loss 0.1917 at epoch 14."""
    metrics = json.loads(experiment.metrics_path(446).read_text())
    accuracy = [metrics["checkpoints"][str(e)]["test_accuracy"] for e in experiment.checkpoint_epochs]
    assert accuracy[-1] == pytest.approx(100 * 861 / 900)
    assert metrics["checkpoints"]["14"]["test_loss"] == pytest.approx(0.1917, abs=1e-4)
    assert [round(a, 1) for a in accuracy[:4]] == [77.2, 83.1, 91.6, 95.1]
    assert len(metrics["train_loss"]) == 15


def test_finished_seed_is_skipped_and_overwrite_retrains(trained_seed, experiment):
    path = experiment.checkpoint_path(446, 14)
    before = path.stat().st_mtime_ns
    train_seed(experiment, 446)
    assert path.stat().st_mtime_ns == before
    net, params = load_checkpoint(experiment, 446, 14)
    assert not net.training and set(params) == {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                                 "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}


def test_batch_order_is_the_dataloaders():
    torch.manual_seed(3)
    ours = paper_batch_order(70, 2)
    torch.manual_seed(3)
    theirs = [[b for _, b in DataLoader([(0, i) for i in range(70)], batch_size=32, shuffle=True)] for _ in range(2)]
    assert [[b.tolist() for b in e] for e in ours] == [[b.tolist() for b in e] for e in theirs]
    assert [len(b) for b in ours[0]] == [32, 32, 6]


def test_subset_tensors_have_the_strides_of_the_papers_batches(mnist3_subsets):
    train, _ = load_experiment_data("mnist3", 10)
    assert train.x.stride() == (784, 784, 28, 1)
    assert train.x[torch.tensor([3, 1])].stride() == (784, 784, 28, 1)


@pytest.mark.device
@pytest.mark.parametrize("strategy", ["loop", "stacked"])
def test_many_model_trainer_equals_separate_runs(mnist3_subsets, strategy, device):
    """k models with their own item weights and fresh Adams equal k separate runs (to 1e-5)."""
    train, _ = load_experiment_data("mnist3", 10)
    x, y = train.x[:20].to(device), train.y[:20].to(device)
    torch.manual_seed(0)
    net = build_cnn("cnn", 1).to(device)
    start = {n: p.detach().clone() for n, p in net.named_parameters()}
    weights = torch.ones(3, 20)
    weights[0, 4] = 0
    weights[1, 11] = 0
    torch.manual_seed(1)
    batches = paper_batch_order(20, 3, batch_size=8)
    together = train_many(net, [start] * 3, x, y, batches, weights, strategy=strategy, workers=2)
    for k in range(3):
        alone = train_many(net, [start], x, y, batches, weights[k : k + 1], strategy="loop")[0]
        for name in start:  # relative to each tensor's norm: Adam's sign-like steps amplify 1e-9 gradient noise
            assert (together[k][name] - alone[name]).norm() <= 1e-5 * alone[name].norm(), (k, name)
    assert not torch.allclose(together[0]["fc2.weight"], together[2]["fc2.weight"])


@pytest.mark.device
def test_loop_and_stacked_trainers_agree_step_by_step(mnist3_subsets, device):
    train, _ = load_experiment_data("mnist3", 10)
    train = train.to(device)
    torch.manual_seed(0)
    net = build_cnn("cnn", 1).to(device)
    start = {n: p.detach().clone() for n, p in net.named_parameters()}
    loop, stacked = LoopTrainer(net, [start] * 2, AdamSettings()), StackedTrainer(net, [start] * 2, AdamSettings())
    w = torch.ones(2, 30, device=device)
    w[1, 0] = 0
    for _ in range(3):
        assert torch.allclose(loop.step(train.x, train.y, w), stacked.step(train.x, train.y, w), rtol=1e-5)
