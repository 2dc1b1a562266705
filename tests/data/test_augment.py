"""Batch augmentation: each transform checked against its definition, image by image."""
import numpy as np
import pytest
import torch

from convscope.data.augment import CIFAR10_MEAN, CIFAR10_STD, cutout, normalize, random_crop, random_flip

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def batch(device="cpu", n=64):
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(1)).to(device)


def gen(device="cpu", seed=0):
    return torch.Generator(device).manual_seed(seed)


@pytest.mark.parametrize("device", DEVICES)
def test_shapes_dtypes_and_reproducibility(device):
    images = batch(device)
    for transform in (lambda x, g: random_crop(x, 4, g), random_flip, lambda x, g: cutout(x, 8, g)):
        for x in (images, (images * 255).to(torch.uint8)):
            out = transform(x, gen(device))
            assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
            assert torch.equal(out, transform(x, gen(device)))


def test_random_flip_mirrors_the_chosen_images():
    images = batch()
    out = random_flip(images, gen())
    flipped = torch.tensor([torch.equal(o, x.flip(-1)) for o, x in zip(out, images)])
    kept = torch.tensor([torch.equal(o, x) for o, x in zip(out, images)])
    assert (flipped ^ kept).all()  # each image is exactly one of the two
    assert 16 < flipped.sum() < 48


def test_random_crop_is_a_window_of_the_reflect_padded_image():
    images, pad = batch(), 4
    padded = np.pad(images.numpy(), ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="reflect")
    out = random_crop(images, pad, gen()).numpy()
    offsets = set()
    for i in range(len(images)):
        found = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                 if np.array_equal(out[i], padded[i, :, dy:dy + 32, dx:dx + 32])]
        assert len(found) == 1
        offsets.add(found[0])
    assert len(offsets) > 20  # per-image offsets, not one for the batch


def test_cutout_zeros_one_square_per_image():
    out = cutout(torch.ones(32, 3, 32, 32), 8, gen())
    zero = out == 0
    assert (zero.sum(dim=(2, 3)) == 64).all()  # exactly size * size pixels per channel
    assert (zero == zero[:, :1]).all()  # the same square in every channel
    rows, cols = zero[:, 0].any(2), zero[:, 0].any(1)
    assert (rows.sum(1) == 8).all() and (cols.sum(1) == 8).all()  # so an 8 x 8 square
    assert len({tuple(r.nonzero()[0].tolist()) for r in rows}) > 5  # in different places


def test_normalize_by_hand():
    images = torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 1, 1, 3).expand(1, 3, 1, 3)
    out = normalize(images)
    assert out.dtype == torch.float32 and out.shape == (1, 3, 1, 3)
    for c in range(3):
        m, s = CIFAR10_MEAN[c], CIFAR10_STD[c]
        want = [(0 - m) / s, (128 / 255 - m) / s, (1 - m) / s]
        assert out[0, c, 0].tolist() == pytest.approx(want, abs=1e-5)
    assert normalize(images, mean=(0.5,), std=(0.25,), dtype=torch.float64)[0, 0, 0].tolist() == \
        pytest.approx([-2.0, (128 / 255 - 0.5) / 0.25, 2.0], abs=1e-12)
