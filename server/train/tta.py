"""Test-time augmentation: the logits of an image averaged over its mirror and shifted copies."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def shifted(images: torch.Tensor, shift: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C, H, W) images moved `shift` pixels down-right and up-left, their edges reflected."""
    h, w = images.shape[-2:]
    padded = F.pad(images, (shift, shift, shift, shift), mode="reflect")
    return padded[..., :h, :w], padded[..., 2 * shift:, 2 * shift:]


def tta_logits(model: nn.Module, images: torch.Tensor, flip: bool, shift: int) -> torch.Tensor:
    """Float logits of `model` on `images`; with `flip`, averaged with the mirror images'; with
    `shift`, the image counts half and its two shifted copies a quarter each (airbench's
    multi-crop)."""
    def one(x: torch.Tensor) -> torch.Tensor:
        logits = model(x).float()
        return (logits + model(x.flip(-1)).float()) / 2 if flip else logits

    logits = one(images)
    if shift:
        down_right, up_left = shifted(images, shift)
        logits = logits / 2 + (one(down_right) + one(up_left)) / 4
    return logits
