"""Batch augmentation of (N, C, H, W) tensors on any device: vectorised, no per-image loops.

Every function takes an optional torch.Generator (on any device) for reproducible draws.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)  # per RGB channel, pixel values on the 0..1 scale
CIFAR10_STD = (0.2470, 0.2435, 0.2616)  # per RGB channel, std of single pixels, 0..1 scale


def _randint(high: int, images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """(N,) ints in [0, high), drawn where `generator` lives and moved to `images`' device."""
    device = generator.device if generator is not None else images.device
    draws = torch.randint(0, high, (images.shape[0],), generator=generator, device=device)
    return draws.to(images.device)


def random_crop(images: torch.Tensor, pad: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Reflect-pad each image by `pad` (no black borders to learn), crop a random H x W window."""
    n, c, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad), mode="reflect").flatten(2)  # (N, C, (H+2p)(W+2p))
    top, left = _randint(2 * pad + 1, images, generator), _randint(2 * pad + 1, images, generator)
    rows = top[:, None] + torch.arange(h, device=images.device)  # (N, H)
    cols = left[:, None] + torch.arange(w, device=images.device)  # (N, W)
    index = rows[:, :, None] * (w + 2 * pad) + cols[:, None, :]  # (N, H, W) into the padded image
    return padded.gather(2, index.view(n, 1, h * w).expand(n, c, h * w)).view(n, c, h, w)


def random_flip(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = _randint(2, images, generator).bool().view(-1, 1, 1, 1)
    return torch.where(flip, images.flip(3), images)


def cutout(images: torch.Tensor, size: int,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero one random size x size square per image, always wholly inside it, in every channel."""
    _, _, h, w = images.shape
    top, left = _randint(h - size + 1, images, generator), _randint(w - size + 1, images, generator)
    ys, xs = torch.arange(h, device=images.device), torch.arange(w, device=images.device)
    in_rows = (ys >= top[:, None]) & (ys < top[:, None] + size)  # (N, H)
    in_cols = (xs >= left[:, None]) & (xs < left[:, None] + size)  # (N, W)
    return images.masked_fill((in_rows[:, :, None] & in_cols[:, None, :])[:, None], 0)


def normalize(images_uint8: torch.Tensor, mean: tuple[float, ...] = CIFAR10_MEAN,
              std: tuple[float, ...] = CIFAR10_STD,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(x / 255 - mean) / std per channel, as `dtype`; mean and std on the 0..1 scale."""
    shape = (1, -1, 1, 1)
    mean_255 = torch.tensor(mean, dtype=dtype, device=images_uint8.device).view(shape) * 255
    std_255 = torch.tensor(std, dtype=dtype, device=images_uint8.device).view(shape) * 255
    return images_uint8.to(dtype).sub_(mean_255).div_(std_255)
