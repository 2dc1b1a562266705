"""The official CIFAR-10 python and binary batch formats, read exactly; broken batches named."""
import os
import pickle

import numpy as np
import pytest

from convscope.data import CIFAR10_CLASSES, DataError, load_dataset

ROW, COL, RGB = 3, 7, (200, 100, 50)  # the pixel conftest plants in data_batch_1's first image


def check(dataset, expected):
    train_images, train_labels, test_images, test_labels = expected
    assert dataset.train_images.shape == (100, 32, 32, 3) and dataset.train_images.dtype == np.uint8
    assert dataset.test_images.shape == (20, 32, 32, 3)
    assert dataset.train_labels.dtype == dataset.test_labels.dtype == np.int64
    assert tuple(dataset.train_images[0, ROW, COL]) == RGB  # CHW rows -> HWC, at the right place
    np.testing.assert_array_equal(dataset.train_images, train_images)
    np.testing.assert_array_equal(dataset.train_labels, train_labels)
    np.testing.assert_array_equal(dataset.test_images, test_images)
    np.testing.assert_array_equal(dataset.test_labels, test_labels)
    assert dataset.classes == list(CIFAR10_CLASSES)


@pytest.mark.parametrize("given", ["parent", "folder"])
def test_python_batches(tmp_path, write_python_batches, expected, given):
    folder = write_python_batches(tmp_path)
    dataset = load_dataset(tmp_path if given == "parent" else folder, progress=lambda *a: None)
    check(dataset, expected)
    assert dataset.source == f"CIFAR-10 (python batches) at {folder}"


@pytest.mark.parametrize("given", ["parent", "folder"])
def test_binary_batches(tmp_path, write_binary_batches, expected, given):
    folder = write_binary_batches(tmp_path)
    dataset = load_dataset(tmp_path if given == "parent" else folder, progress=lambda *a: None)
    check(dataset, expected)
    assert dataset.source == f"CIFAR-10 (binary batches) at {folder}"


@pytest.mark.parametrize("name", ["data_batch_3", "test_batch", "batches.meta"])
def test_truncated_python_batch_is_named(tmp_path, write_python_batches, name):
    file = write_python_batches(tmp_path) / name
    file.write_bytes(file.read_bytes()[:-100])
    with pytest.raises(DataError, match=f"{file}.*truncated or corrupt"):
        load_dataset(tmp_path, progress=lambda *a: None)


def test_truncated_binary_batch_is_named(tmp_path, write_binary_batches):
    file = write_binary_batches(tmp_path) / "data_batch_2.bin"
    file.write_bytes(file.read_bytes()[:-1])
    with pytest.raises(DataError, match=f"{file} is truncated or corrupt"):
        load_dataset(tmp_path, progress=lambda *a: None)


@pytest.mark.parametrize("write", ["write_python_batches", "write_binary_batches"])
def test_missing_batch_is_named(tmp_path, request, write):
    folder = request.getfixturevalue(write)(tmp_path)
    next(folder.glob("data_batch_4*")).unlink()
    with pytest.raises(DataError, match=f"{folder} is incomplete: missing data_batch_4"):
        load_dataset(tmp_path, progress=lambda *a: None)


def test_not_a_batch_is_named(tmp_path, write_python_batches):
    file = write_python_batches(tmp_path) / "data_batch_1"
    file.write_bytes(pickle.dumps({b"data": [1, 2, 3]}, protocol=2))
    with pytest.raises(DataError, match=f"{file} is not a CIFAR-10 python batch"):
        load_dataset(tmp_path, progress=lambda *a: None)


def test_label_out_of_range_is_named(tmp_path, write_binary_batches):
    folder = write_binary_batches(tmp_path)
    (folder / "batches.meta.txt").write_text("cat\ndog\n")  # labels go up to 9
    with pytest.raises(DataError, match=r"data_batch_1.bin: labels run from \d to 9, but there are 2 classes"):
        load_dataset(folder, progress=lambda *a: None)


class _Exploit:
    def __reduce__(self):
        return os.system, ("touch pwned",)


def test_batch_pickle_cannot_run_code(tmp_path, write_python_batches, monkeypatch):
    monkeypatch.chdir(tmp_path)
    file = write_python_batches(tmp_path) / "test_batch"
    file.write_bytes(pickle.dumps({b"data": _Exploit()}, protocol=2))
    with pytest.raises(DataError, match=f"{file}.*posix.system"):
        load_dataset(tmp_path, progress=lambda *a: None)
    assert not (tmp_path / "pwned").exists()
