"""Helpers that tests in several folders import (tests/ is on pytest's pythonpath)."""

import os
from typing import NoReturn

import pytest

TIMEOUT = 60.0  # seconds to wait for anything a worker does (CI machines are slow and shared)


def unavailable(what: str, fix: str) -> NoReturn:
    """A browser or tool that tests need cannot be found or started: skip them, saying what and how to
    install it; under CI (CI=true), which must install it, fail instead, so no run passes without them."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {what}: {fix}", pytrace=False)
    pytest.skip(f"{what}: {fix}")


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
