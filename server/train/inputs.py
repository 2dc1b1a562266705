"""What a network's input images are, and how their pixels become its input.

    fmt = InputFormat.of(dataset.train_images)    # shape, per-channel statistics, background
    x = fmt.to_tensor(images_nhwc_uint8)          # (N, C, H, W) float32, normalised

The trainer measures it on the training images and keeps it with the model (checkpoints, the
live weights), so an upload or a drawing is scaled exactly as the training images were, and
converted to their channels, size and polarity (inference/image.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ..data.augment import CIFAR10_MEAN, CIFAR10_STD, normalize

DARK = 64  # a mean border pixel below this (of 255): light objects on black, as in MNIST
SAMPLE = 5000  # images measured for the statistics: more changes them in the fourth digit


@dataclass(frozen=True)
class InputFormat:
    channels: int  # 3 (RGB) or 1 (grayscale)
    height: int
    width: int
    mean: tuple[float, ...]  # per channel, pixel values on the 0..1 scale
    std: tuple[float, ...]  # per channel, of single pixels; 1 and a mean of 0: pixels / 255
    dark_background: bool  # light objects on black: uploads on a light background are inverted

    @classmethod
    def of(cls, images: np.ndarray, normalized: bool = True) -> "InputFormat":
        """The format of (N, H, W, C) uint8 images; normalized=False scales pixels to 0..1 only."""
        _, height, width, channels = images.shape
        sample = torch.from_numpy(images[:SAMPLE]).float().div_(255)
        border = torch.cat([sample[:, 0], sample[:, -1], sample[:, :, 0], sample[:, :, -1]], 1)
        if normalized:
            mean = tuple(round(v, 4) for v in sample.mean((0, 1, 2)).tolist())
            std = tuple(round(v, 4) for v in sample.std((0, 1, 2)).tolist())
        else:
            mean, std = (0.0,) * channels, (1.0,) * channels
        return cls(channels, height, width, mean, std, border.mean().item() * 255 < DARK)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "InputFormat":
        """As to_dict wrote it; None (a checkpoint from before formats were kept): CIFAR-10's."""
        if d is None:
            return CIFAR10
        return cls(int(d["channels"]), int(d["height"]), int(d["width"]), tuple(map(float, d["mean"])),
                   tuple(map(float, d["std"])), bool(d["dark_background"]))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mean": list(self.mean), "std": list(self.std)}

    def to_tensor(self, images: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
        """(N, H, W, C) or one (H, W, C) uint8 image -> normalised (N, C, H, W) float32 on `device`."""
        if not isinstance(images, torch.Tensor):
            images = np.ascontiguousarray(images)
            images = torch.from_numpy(images if images.flags.writeable else images.copy())
        x = images.to(device)
        if x.dim() == 3:
            x = x[None]
        return normalize(x.permute(0, 3, 1, 2), self.mean, self.std, torch.float32).contiguous()


CIFAR10 = InputFormat(3, 32, 32, CIFAR10_MEAN, CIFAR10_STD, dark_background=False)
