"""The dataset every loader returns, and the error every loader raises."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
IMAGE_SIZE = 32  # pixels, height and width


class DataError(Exception):
    """Bad or missing data; the message is shown to the user as-is (what, where, what to do)."""


@dataclass
class Dataset:
    train_images: np.ndarray  # (N, H, W, C) uint8: (N, 32, 32, 3) for CIFAR-10, (N, 28, 28, 1) MNIST
    train_labels: np.ndarray  # (N,) int64
    test_images: np.ndarray  # (M, H, W, C) uint8
    test_labels: np.ndarray  # (M,) int64
    classes: list[str]  # class names in label order
    source: str  # human description, e.g. "CIFAR-10 (python batches) at /path"
    flips: bool = True  # a left-right mirror image keeps its class (not so for digits)
