"""The probe images' pixels, read back from the user's normalised tensors, and uploads made like them."""

import numpy as np
import torch

from convscope.watched.pixels import ProbeFormat


def normalised(pixels: np.ndarray, mean, std) -> torch.Tensor:
    """(N, H, W, C) uint8 -> (N, C, H, W) as ToTensor + Normalize(mean, std) make them."""
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
    return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


def test_pixels_with_black_and_white_in_each_channel_come_back_exactly():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    pixels[0, 0, 0], pixels[0, 0, 1] = 0, 255
    mean, std = (0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)
    fmt = ProbeFormat.of(normalised(pixels, mean, std))
    assert np.array_equal(fmt.pixels(normalised(pixels, mean, std)), pixels)
    upload = fmt.input_format()  # an upload's pixels become what the loop's own transform makes
    assert np.allclose(upload.mean, mean, atol=1e-5) and np.allclose(upload.std, std, atol=1e-5)
    assert torch.allclose(upload.to_tensor(pixels[1:2]), normalised(pixels[1:2], mean, std), atol=1e-5)


def test_light_digits_on_black_are_known_and_odd_channel_counts_show_the_first():
    digits = np.zeros((2, 28, 28, 1), np.uint8)
    digits[:, 8:20, 12:16] = 255
    assert ProbeFormat.of(normalised(digits, (0.5,), (0.5,))).input_format().dark_background
    four = torch.zeros(1, 4, 2, 2)
    four[0, 0] = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    four[0, 1:] = 7.0  # flat channels are shown as they are, not divided by zero
    assert ProbeFormat.of(four).pixels(four)[..., 0].tolist() == [[[0, 85], [170, 255]]]
