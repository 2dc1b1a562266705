"""Batches for training and evaluation, from images kept normalised on the device (inputs.py).

The whole set is converted to float once (CIFAR-10: 614 MB in fp32), so a step only gathers,
augments and trains; converting uint8 per step costs a third of a small network's time.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..data.augment import cutout, random_crop, random_flip
from .config import TrainConfig


class TrainBatches:
    """Endless shuffled, augmented batches; epochs are counted in images seen."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, seed: int, flips: bool = True) -> None:
        self.images, self.labels = images, labels  # (N, C, H, W) float, (N,) int64
        self.flips = flips  # whether mirror images keep their class (Dataset.flips)
        self.generator = torch.Generator(device=images.device).manual_seed(seed)
        self.order = torch.empty(0, dtype=torch.long, device=images.device)
        self.position = 0

    def __len__(self) -> int:
        return len(self.labels)

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        """Where the stream is: resuming from this gives exactly the batches that would follow."""
        return {"generator": self.generator.get_state(), "order": self.order.cpu(),
                "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.order = state["order"].to(self.images.device)
        self.position = int(state["position"])

    def next(self, batch_size: int, cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch; a new shuffled epoch starts when fewer than batch_size images are left."""
        batch_size = min(batch_size, len(self))
        if self.position + batch_size > len(self.order):
            self.order = torch.randperm(len(self), generator=self.generator, device=self.images.device)
            self.position = 0
        index = self.order[self.position:self.position + batch_size]
        self.position += batch_size
        x = self.images[index]
        if cfg.crop_pad:
            x = random_crop(x, cfg.crop_pad, generator=self.generator)
        if cfg.flip and self.flips:
            x = random_flip(x, generator=self.generator)
        if cfg.cutout:
            x = cutout(x, cfg.cutout, generator=self.generator)
        return x, self.labels[index]


def eval_batches(images: torch.Tensor, labels: torch.Tensor,
                 batch_size: int = 1000) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The test set in order, in fixed-size batches."""
    for start in range(0, len(labels), batch_size):
        yield images[start:start + batch_size], labels[start:start + batch_size]
