"""A folder of MNIST's four IDX files: decoded exactly, told apart by md5, cached; bad files named."""
import dataclasses
import gzip
import hashlib

import numpy as np
import pytest

from convscope.data import DataError, Dataset, load_dataset
from convscope.data import mnist
from convscope.data.mnist import FASHION_MNIST, FILES, MNIST

DIGITS = [str(i) for i in range(10)]


def quiet(*_):
    pass


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def known_as(monkeypatch, dataset, folder, content_only=False):
    """Make the files in `folder` the official copy of `dataset`, by its .gz md5s or content md5s."""
    stored = {name: next(folder.glob(f"{name}*")).read_bytes() for name in FILES}
    content = {name: md5(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
               for name, data in stored.items()}
    gz = {name: "0" * 32 if content_only else md5(data) for name, data in stored.items()}
    patched = dataclasses.replace(dataset, gz_md5=gz, content_md5=content if content_only else {})
    monkeypatch.setitem(mnist.DATASETS, dataset.key, patched)


def reads(calls):
    return [call for call in calls if call[0] == "reading IDX files"]


@pytest.mark.parametrize("gz", [True, False])
def test_gzipped_or_raw(tmp_path, write_idx, idx_arrays, gz):
    folder = write_idx(tmp_path / "digits", gz=gz)
    dataset = load_dataset(folder, progress=quiet)
    assert dataset.train_images.shape == (12, 28, 28, 1) and dataset.train_images.dtype == np.uint8
    assert dataset.test_images.shape == (5, 28, 28, 1)
    assert dataset.train_labels.dtype == dataset.test_labels.dtype == np.int64
    np.testing.assert_array_equal(dataset.train_images[..., 0], idx_arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(dataset.test_images[..., 0], idx_arrays["t10k-images-idx3-ubyte"])
    assert dataset.train_labels.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert dataset.test_labels.tolist() == [3, 1, 4, 1, 5]
    assert dataset.classes == DIGITS  # unrecognised files: named by label, and no flips
    assert dataset.flips is False
    assert dataset.source == f"IDX files at {folder} (unrecognised; classes named by label)"
    assert dataset.train_images.flags.writeable


def test_gzipped_and_raw_mixed(tmp_path, write_idx, idx_arrays):
    folder = write_idx(tmp_path, gz=False)
    gz = folder / "t10k-images-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress((folder / "t10k-images-idx3-ubyte").read_bytes()))
    (folder / "t10k-images-idx3-ubyte").unlink()
    dataset = load_dataset(folder, progress=quiet)
    np.testing.assert_array_equal(dataset.test_images[..., 0], idx_arrays["t10k-images-idx3-ubyte"])


@pytest.mark.parametrize("dataset", [FASHION_MNIST, MNIST], ids=["fashion", "mnist"])
@pytest.mark.parametrize("content_only", [False, True], ids=["gz-md5", "content-md5"])
def test_told_apart_by_md5(tmp_path, write_idx, monkeypatch, dataset, content_only):
    """By the .gz files' md5s, or, for a recompressed copy, by their content's."""
    folder = write_idx(tmp_path / "some-folder")
    known_as(monkeypatch, dataset, folder, content_only)
    loaded = load_dataset(folder, progress=quiet)
    assert loaded.classes == list(dataset.classes) and loaded.flips is dataset.flips
    assert loaded.source == f"{dataset.name} (IDX files) at {folder}"


def test_real_class_names_and_flips():
    assert FASHION_MNIST.classes == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                     "Shirt", "Sneaker", "Bag", "Ankle boot")
    assert list(MNIST.classes) == DIGITS
    assert FASHION_MNIST.flips and not MNIST.flips
    assert Dataset(*[np.zeros(0)] * 4, [], "x").flips  # the default, as for CIFAR-10


@pytest.mark.parametrize("parts", [("fashion",), ("FashionMNIST", "raw")])
def test_unrecognised_fashion_folder_gets_fashion_names(tmp_path, write_idx, parts):
    folder = write_idx(tmp_path.joinpath(*parts))
    dataset = load_dataset(folder, progress=quiet)
    assert dataset.classes == list(FASHION_MNIST.classes) and dataset.flips
    assert "(unrecognised; Fashion-MNIST's classes" in dataset.source


def test_unrecognised_labels_beyond_nine(tmp_path, write_idx, idx_arrays):
    idx_arrays["train-labels-idx1-ubyte"][3] = 46  # EMNIST-like: 47 classes
    dataset = load_dataset(write_idx(tmp_path / "letters"), progress=quiet)
    assert dataset.classes == [str(i) for i in range(47)]
    idx_arrays["train-labels-idx1-ubyte"][3] = 10
    with pytest.raises(DataError, match="labels run up to 10, but Fashion-MNIST has 10 classes"):
        load_dataset(write_idx(tmp_path / "fashion"), progress=quiet)


def test_second_load_comes_from_the_cache(tmp_path, write_idx, cache):
    folder = write_idx(tmp_path / "digits")
    calls = []
    load_dataset(folder, progress=lambda *a: calls.append(a))
    assert reads(calls)[-1] == ("reading IDX files", 4, 4)
    assert [p.suffix for p in (cache / "idx").iterdir()] == [".npz"]
    calls.clear()
    dataset = load_dataset(folder, progress=lambda *a: calls.append(a))
    assert not reads(calls) and dataset.classes == DIGITS and dataset.flips is False
    assert dataset.test_labels.tolist() == [3, 1, 4, 1, 5]


def test_changed_file_is_read_again(tmp_path, write_idx, idx_arrays):
    folder = write_idx(tmp_path / "digits")
    load_dataset(folder, progress=quiet)
    idx_arrays["t10k-labels-idx1-ubyte"][0] = 9
    write_idx(folder)
    calls = []
    assert load_dataset(folder, progress=lambda *a: calls.append(a)).test_labels[0] == 9
    assert reads(calls)


def corrupt(folder, name, gz, edit):
    """Apply `edit` to the IDX bytes of `name` in `folder`, kept gzipped or raw; the file's path."""
    path = folder / (f"{name}.gz" if gz else name)
    data = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    path.write_bytes(gzip.compress(edit(data)) if gz else edit(data))
    return path


BAD = {
    "magic": ("train-images-idx3-ubyte", lambda d: d[:3] + b"\x01" + d[4:],
              "is not an IDX file of 3-dimensional unsigned bytes: its magic number is 0x00000801, "
              "expected 0x00000803"),
    "type": ("t10k-labels-idx1-ubyte", lambda d: d[:2] + b"\x0d" + d[3:],
             "is not an IDX file of 1-dimensional unsigned bytes: its magic number is 0x00000d01"),
    "truncated": ("t10k-images-idx3-ubyte", lambda d: d[:-10],
                  r"is truncated: its header says 5 x 28 x 28 = 3920 values, it holds 3910"),
    "too long": ("train-labels-idx1-ubyte", lambda d: d + b"\x00",
                 r"is corrupt: its header says 12 = 12 values, it holds 13"),
    "header cut": ("train-images-idx3-ubyte", lambda d: d[:7],
                   "is truncated: 7 bytes, less than its 16-byte header"),
}


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("problem", BAD)
def test_bad_file_is_named_and_nothing_cached(tmp_path, write_idx, cache, problem, gz):
    name, edit, message = BAD[problem]
    path = corrupt(write_idx(tmp_path / "digits", gz=gz), name, gz, edit)
    with pytest.raises(DataError, match=f"{path} {message}"):
        load_dataset(tmp_path / "digits", progress=quiet)
    assert not (cache / "idx").exists()


def test_truncated_gzip_is_named(tmp_path, write_idx, cache):
    path = write_idx(tmp_path) / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match=f"{path} is truncated or corrupt"):
        load_dataset(tmp_path, progress=quiet)
    assert not (cache / "idx").exists()


@pytest.mark.parametrize("split", ["train", "t10k"])
def test_counts_that_disagree_are_named(tmp_path, write_idx, idx_arrays, cache, split):
    labels = f"{split}-labels-idx1-ubyte"
    idx_arrays[labels] = idx_arrays[labels][:-1]
    folder = write_idx(tmp_path)
    n = len(idx_arrays[f"{split}-images-idx3-ubyte"])
    with pytest.raises(DataError, match=f"{folder / split}-images-idx3-ubyte.gz holds {n} images but "
                                        f"{folder / labels}.gz holds {n - 1} labels"):
        load_dataset(folder, progress=quiet)
    assert not (cache / "idx").exists()


def test_train_and_test_sizes_must_agree(tmp_path, write_idx, idx_arrays):
    idx_arrays["t10k-images-idx3-ubyte"] = np.zeros((5, 14, 14), np.uint8)
    with pytest.raises(DataError, match=r"holds \(28, 28\) images but .* holds \(14, 14\)"):
        load_dataset(write_idx(tmp_path), progress=quiet)


def test_missing_file_is_named(tmp_path, write_idx):
    folder = write_idx(tmp_path)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=f"{folder} is incomplete: missing t10k-labels-idx1-ubyte "):
        load_dataset(folder, progress=quiet)
