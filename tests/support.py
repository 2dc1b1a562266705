"""Helpers that tests in several folders import (tests/ is on pytest's pythonpath)."""

import os
import time
from typing import NoReturn

import pytest

TIMEOUT = 60.0  # seconds to wait for anything a worker does (CI machines are slow and shared)


def unavailable(what: str, fix: str) -> NoReturn:
    """A browser or tool that tests need cannot be found or started: skip them, saying what and how to
    install it; under CI (CI=true), which must install it, fail instead, so no run passes without them."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {what}: {fix}", pytrace=False)
    pytest.skip(f"{what}: {fix}")


def make_digit_dataset(train: int = 256, test: int = 100, seed: int = 0):
    """1x28x28 grayscale images, light shapes on black as in MNIST: class c is a bright bar at
    row 2c + 4, so a small network learns it in a few steps. Mirror images keep their class."""
    import numpy as np

    from convscope.data import Dataset

    rng = np.random.default_rng(seed)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 30, (n, 28, 28, 1))
        for i, c in enumerate(labels):
            images[i, 2 * c + 4:2 * c + 6, 4:24] = 230
        return images.astype(np.uint8), labels.astype(np.int64)

    (xtr, ytr), (xte, yte) = split(train), split(test)
    return Dataset(xtr, ytr, xte, yte, [f"bar {c}" for c in range(10)], "tiny digit-like dataset")


def idx_file(array) -> bytes:
    """An IDX file of uint8 `array` (the MNIST format): magic 0 0 8 ndim, big-endian sizes, bytes."""
    import numpy as np

    return bytes((0, 0, 8, array.ndim)) + np.array(array.shape, ">u4").tobytes() + array.tobytes()


def write_idx_dataset(dataset, folder):
    """`dataset` as the four MNIST-layout IDX files in `folder` (uncompressed); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, images, labels in (("train", dataset.train_images, dataset.train_labels),
                                   ("t10k", dataset.test_images, dataset.test_labels)):
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(idx_file(images[..., 0]))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_file(labels.astype("uint8")))
    return folder


def make_tiny_dataset(train: int = 256, test: int = 128, seed: int = 0):
    """Random 32x32 images whose mean colour depends on the class: learnable in a few steps."""
    import numpy as np

    from convscope.data import CIFAR10_CLASSES, Dataset

    rng = np.random.default_rng(seed)
    palette = rng.integers(40, 216, (10, 3))

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, n)
        noise = rng.integers(-40, 40, (n, 32, 32, 3))
        return (palette[labels][:, None, None, :] + noise).clip(0, 255).astype(np.uint8), labels

    (xtr, ytr), (xte, yte) = split(train), split(test)
    return Dataset(xtr, ytr.astype(np.int64), xte, yte.astype(np.int64), list(CIFAR10_CLASSES),
                   "tiny random dataset")


def until(check, timeout: float = 30.0):
    """check()'s first true value, polled every 50 ms; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := check()):
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")
