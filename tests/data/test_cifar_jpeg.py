"""The real thing: all 60,000 CIFAR-10 JPEGs from the shared zip, decoded once, then cached."""
import numpy as np

from convscope.data import CIFAR10_CLASSES, load_dataset


def decoding(calls):
    return [call for call in calls if call[0].startswith("decoding")]


def test_cifar_jpeg_zip(cifar_jpeg_zip):
    """Decoded into this test's own cache folder (see conftest), then loaded again from there."""
    first, second = [], []
    load_dataset(cifar_jpeg_zip, progress=lambda *a: first.append(a))
    dataset = load_dataset(cifar_jpeg_zip, progress=lambda *a: second.append(a))
    assert decoding(first)[-1] == ("decoding test images", 10_000, 10_000) and not decoding(second)
    assert dataset.classes == list(CIFAR10_CLASSES)
    assert dataset.train_images.shape == (50_000, 32, 32, 3)
    assert dataset.test_images.shape == (10_000, 32, 32, 3)
    assert np.bincount(dataset.train_labels).tolist() == [5000] * 10
    assert np.bincount(dataset.test_labels).tolist() == [1000] * 10
    assert 100 < dataset.train_images.mean() < 150  # real photos, not blank
