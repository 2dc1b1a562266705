"""Fixtures for the data tests: a private cache folder; CIFAR-10 and MNIST in the official formats."""
from __future__ import annotations

import gzip
import pickle
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from convscope.data import CIFAR10_CLASSES

PER_BATCH = 20  # images per batch file: small, same format as the official 10,000
BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
KNOWN = (3, 7, (200, 100, 50))  # row, column, RGB of a pixel planted in the first train image


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty cache folder."""
    monkeypatch.setenv("CONVSCOPE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def cifar_rows() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each batch's (N, 3072) CHW rows and labels, with the KNOWN pixel in data_batch_1's image 0."""
    rng = np.random.default_rng(0)
    rows = {name: (rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8),
                   rng.integers(0, 10, PER_BATCH)) for name in BATCHES}
    row, col, rgb = KNOWN
    for channel, value in enumerate(rgb):
        rows["data_batch_1"][0][0, channel * 1024 + row * 32 + col] = value
    return rows


@pytest.fixture
def write_python_batches(cifar_rows) -> Callable[[Path], Path]:
    """Writes cifar-10-batches-py/ under a folder, exactly as the official pickles are laid out."""
    def write(parent: Path) -> Path:
        folder = parent / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        for name, (data, labels) in cifar_rows.items():
            batch = {b"batch_label": name.encode(), b"labels": labels.tolist(), b"data": data,
                     b"filenames": [f"img_{i}.png".encode() for i in range(len(data))]}
            (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        meta = {b"num_cases_per_batch": PER_BATCH, b"num_vis": 3072,
                b"label_names": [c.encode() for c in CIFAR10_CLASSES]}
        (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
        return folder
    return write


@pytest.fixture
def write_binary_batches(cifar_rows) -> Callable[[Path], Path]:
    """Writes cifar-10-batches-bin/ under a folder: records of 1 label byte + 3072 pixel bytes."""
    def write(parent: Path) -> Path:
        folder = parent / "cifar-10-batches-bin"
        folder.mkdir(parents=True)
        for name, (data, labels) in cifar_rows.items():
            records = np.concatenate([labels.astype(np.uint8)[:, None], data], axis=1)
            (folder / f"{name}.bin").write_bytes(records.tobytes())
        (folder / "batches.meta.txt").write_text("\n".join(CIFAR10_CLASSES) + "\n\n")
        return folder
    return write


@pytest.fixture
def python_tarball(tmp_path: Path, write_python_batches) -> Path:
    """A cifar-10-python.tar.gz laid out like the official one."""
    folder = write_python_batches(tmp_path / "src")
    tarball = tmp_path / "tarballs" / "cifar-10-python.tar.gz"
    tarball.parent.mkdir()
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return tarball


@pytest.fixture
def expected(cifar_rows) -> tuple[np.ndarray, ...]:
    """Train images, train labels, test images, test labels, as load_dataset should give them."""
    def hwc(data: np.ndarray) -> np.ndarray:
        return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    train = [cifar_rows[name] for name in BATCHES[:-1]]
    return (np.concatenate([hwc(data) for data, _ in train]),
            np.concatenate([labels for _, labels in train]),
            hwc(cifar_rows["test_batch"][0]), cifar_rows["test_batch"][1])


@pytest.fixture
def idx_arrays() -> dict[str, np.ndarray]:
    """The four MNIST files' arrays, small: 12 train and 5 test 28 x 28 images, labels 0..9."""
    rng = np.random.default_rng(1)
    return {"train-images-idx3-ubyte": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
            "train-labels-idx1-ubyte": (np.arange(12) % 10).astype(np.uint8),
            "t10k-images-idx3-ubyte": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
            "t10k-labels-idx1-ubyte": np.array([3, 1, 4, 1, 5], np.uint8)}


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file: 0, 0, the unsigned-byte type code 8, ndim; big-endian uint32 sizes; the bytes."""
    return bytes((0, 0, 8, array.ndim)) + np.array(array.shape, ">u4").tobytes() + array.tobytes()


@pytest.fixture
def write_idx(idx_arrays) -> Callable[..., Path]:
    """Writes idx_arrays (as they are when called) into a folder as the four IDX files."""
    def write(folder: Path, gz: bool = True) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in idx_arrays.items():
            data = idx_bytes(array)
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
            else:
                (folder / name).write_bytes(data)
        return folder
    return write
