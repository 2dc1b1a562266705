"""CIFAR-10, MNIST, Fashion-MNIST and image-folder datasets: find, download, decode, cache.

Augmentation: see .augment.
"""
from .cache import cache_dir
from .dataset import CIFAR10_CLASSES, DataError, Dataset
from .load import load_dataset
from .progress import Progress

__all__ = ["CIFAR10_CLASSES", "DataError", "Dataset", "Progress", "cache_dir", "load_dataset"]
