"""The pixels of a watched model's inputs, read back from the probe images the user gives.

    fmt = ProbeFormat.of(probe)          # probe: (N, C, H, W), normalised as the user's loop does
    fmt.pixels(probe)                    # (N, H, W, C) uint8, to show on the page
    fmt.input_format()                   # an InputFormat: uploads become inputs like the probe's

The user's normalisation is unknown, but it is per channel and affine (ToTensor, Normalize): the
darkest and brightest values of each channel over the probe images are the images of pixels 0 and
255, so mapping them back recovers the pixels exactly whenever the probe images hold both (a
handful of natural images does), and stretches the contrast a little when they do not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..train.inputs import DARK, InputFormat


@dataclass(frozen=True)
class ProbeFormat:
    channels: int
    height: int
    width: int
    low: tuple[float, ...]  # per channel: the value pixel 0 became
    high: tuple[float, ...]  # per channel: the value pixel 255 became
    dark_background: bool = False  # light objects on black (MNIST): light uploads are inverted

    @classmethod
    def of(cls, probe: torch.Tensor) -> "ProbeFormat":
        if probe.dim() != 4:
            raise ValueError(f"the probe must be a batch of images (N, C, H, W), not a tensor of shape "
                             f"{tuple(probe.shape)}")
        x = probe.detach().float().cpu()
        low, high = x.amin((0, 2, 3)), x.amax((0, 2, 3))
        high = torch.where(high > low, high, low + 1)  # a flat channel: shown as it is
        _, channels, height, width = x.shape
        found = cls(channels, height, width, tuple(low.tolist()), tuple(high.tolist()))
        pixels = found.pixels(x)
        border = np.concatenate([pixels[:, 0], pixels[:, -1], pixels[:, :, 0], pixels[:, :, -1]], 1)
        return cls(channels, height, width, found.low, found.high, float(border.mean()) < DARK)

    def pixels(self, x: torch.Tensor) -> np.ndarray:
        """(N, C, H, W) model inputs -> (N, H, W, C') uint8 pixels (C' = C for 1 or 3 channels, else the first)."""
        x = x.detach().float().cpu()
        low = torch.tensor(self.low)[:, None, None]
        high = torch.tensor(self.high)[:, None, None]
        pixels = ((x - low) / (high - low) * 255).round().clamp(0, 255).to(torch.uint8)
        if self.channels not in (1, 3):
            pixels = pixels[:, :1]
        return pixels.permute(0, 2, 3, 1).contiguous().numpy()

    def input_format(self) -> InputFormat:
        """Uploads decoded (server/inference/image.py) and scaled as the probe images were."""
        mean = tuple(-lo / (hi - lo) for lo, hi in zip(self.low, self.high))
        std = tuple(1 / (hi - lo) for lo, hi in zip(self.low, self.high))
        return InputFormat(self.channels, self.height, self.width, mean, std, self.dark_background)
