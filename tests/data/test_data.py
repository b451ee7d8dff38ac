"""Data: the paper's index lists select exact pixels, in list order, from every source."""

import numpy as np
import pytest
import torch

from bayestda.core.errors import BayesTDAError
from bayestda.core.paths import DATA_DIR
from bayestda.data.subsets import build_subset, cnn_transform, load_pool, load_subset, read_index_list


def test_selecting_paper_indices_from_full_mnist_gives_the_shipped_subset_tensors():
    for split, n in [("train", 10), ("train", 20), ("train", 50), ("test", None)]:
        shipped = build_subset("mnist3", split, n, load_pool("mnist", split, "shipped"))
        full = build_subset("mnist3", split, n, load_pool("mnist", split, "mnist-full"))
        assert torch.equal(shipped["images_uint8"], full["images_uint8"])
        assert torch.equal(shipped["x"], full["x"]) and torch.equal(shipped["y"], full["y"])
        assert torch.equal(shipped["idx"], full["idx"])


def test_items_follow_index_list_order_and_carry_canonical_index(mnist3_subsets):
    train = load_subset("mnist3", "train", 10)
    assert train.idx.tolist() == read_index_list("mnist3", "train", 10).tolist()
    full = np.load(DATA_DIR / "mnist" / "mnist_full.npz")
    i = 7
    x, y, idx = train[i]
    assert y.item() == full["train_labels"][idx.item()]
    assert torch.equal(x[0], torch.from_numpy(full["train_images"][idx.item()]).float() / 255)


def test_mnist3_is_digits_0_1_2_balanced():
    for n in (10, 20, 50):
        y = build_subset("mnist3", "train", n, load_pool("mnist", "train"))["y"]
        assert torch.bincount(y, minlength=10).tolist() == [n, n, n] + [0] * 7
    y = build_subset("mnist3", "test", None, load_pool("mnist", "test"))["y"]
    assert torch.bincount(y, minlength=10).tolist() == [300, 300, 300] + [0] * 7


def test_cifar_transform_is_totensor_then_normalize_half():
    pool = load_pool("cifar10", "test")
    x = cnn_transform("cifar10", pool.images[:2])
    assert x.shape == (2, 3, 32, 32)
    expected = (torch.from_numpy(pool.images[:2]).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5
    assert torch.allclose(x, expected, atol=0, rtol=0)
    assert x.min() >= -1 and x.max() <= 1


def test_cifar_subsets_have_ten_times_n_items_and_a_balanced_test_set():
    for n in (10, 60):
        assert len(build_subset("cifar10", "train", n, load_pool("cifar10", "train"))["y"]) == 10 * n
    y = build_subset("cifar10", "test", None, load_pool("cifar10", "test"))["y"]
    assert torch.bincount(y).tolist() == [50] * 10


def test_label_check_catches_a_wrong_label():
    pool = load_pool("mnist", "train")
    pool.labels = pool.labels.copy()
    pool.labels[pool.indices.tolist().index(read_index_list("mnist3", "train", 10)[0])] = 7
    with pytest.raises(BayesTDAError, match="outside the task's classes"):
        build_subset("mnist3", "train", 10, pool)


def test_missing_subset_file_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("BAYESTDA_SUBSET_DIR", str(tmp_path))
    with pytest.raises(BayesTDAError, match="run: python run_subset_generation.py --task cifar10 --num_per_class 20"):
        load_subset("cifar10", "train", 20)


def test_torchvision_source_downloads_or_is_skipped_cleanly(tmp_path):
    try:
        import torchvision  # noqa: F401, PLC0415 (optional: must not be installed next to peft here)
    except Exception:
        with pytest.raises(BayesTDAError, match="needs an importable torchvision"):
            load_pool("mnist", "train", "torchvision", tmp_path)
        pytest.skip("torchvision does not import next to this CPU torch; the error path was checked instead")
    pool = load_pool("mnist", "test", "torchvision", tmp_path)  # needs network access
    shipped = build_subset("mnist3", "test", None, load_pool("mnist", "test"))
    assert torch.equal(build_subset("mnist3", "test", None, pool)["x"], shipped["x"])
