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
    """Endless shuffled, augmented batches; epochs are counted in images seen.

    Every batch draws from a generator seeded anew from (seed, batches drawn so far), so where
    the stream is can be saved as a few numbers and the shuffled order: a checkpoint written on
    one device resumes on any other (a generator's raw state is device-specific).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, seed: int, flips: bool = True) -> None:
        self.images, self.labels = images, labels  # (N, C, H, W) float, (N,) int64
        self.flips = flips  # whether mirror images keep their class (Dataset.flips)
        self.seed = seed
        self.generator = torch.Generator(device=images.device)
        self.order = torch.empty(0, dtype=torch.long, device=images.device)
        self.position = 0
        self.draws = 0  # batches drawn so far
        self.epochs = 0  # shuffled epochs begun so far
        # alternating flip: a random half of the images is mirrored in odd epochs, the other half
        # in even ones; drawn once, on the CPU, so that it is the same on every device
        bits = torch.randint(0, 2, (len(labels),), generator=torch.Generator().manual_seed(seed))
        self.mirrored = bits.bool().to(images.device)

    def __len__(self) -> int:
        return len(self.labels)

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        """Where the stream is: resuming from this gives exactly the batches that would follow."""
        return {"seed": self.seed, "draws": self.draws, "epochs": self.epochs,
                "order": self.order.cpu(), "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        # (checkpoints before the stream was reseeded per batch hold a raw "generator" state
        # instead of seed and draws: they resume with the stream restarted from the seed)
        self.seed = int(state.get("seed", self.seed))
        self.draws = int(state.get("draws", 0))
        self.epochs = int(state.get("epochs", 0))
        self.order = state["order"].to(self.images.device)
        self.position = int(state["position"])

    def next(self, batch_size: int, cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch; a new shuffled epoch starts when fewer than batch_size images are left."""
        batch_size = min(batch_size, len(self))
        generator = self.generator.manual_seed(mix(self.seed, self.draws))
        self.draws += 1
        if self.position + batch_size > len(self.order):
            self.order = torch.randperm(len(self), generator=generator, device=self.images.device)
            self.position = 0
            self.epochs += 1
        index = self.order[self.position:self.position + batch_size]
        self.position += batch_size
        x = self.images[index]
        if cfg.crop_pad:
            x = random_crop(x, cfg.crop_pad, generator=generator)
        if cfg.flip and self.flips and cfg.alternate_flip:
            flip = self.mirrored[index] ^ (self.epochs % 2 == 0)
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        elif cfg.flip and self.flips:
            x = random_flip(x, generator=generator)
        if cfg.cutout:
            x = cutout(x, cfg.cutout, generator=generator)
        return x, self.labels[index]


def mix(seed: int, n: int) -> int:
    """A 63-bit seed for the n-th draw of the stream seeded `seed` (splitmix64's constants)."""
    z = (seed * 0x9E3779B97F4A7C15 + (n + 1) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
    z = ((z ^ (z >> 30)) * 0x94D049BB133111EB) & (2**64 - 1)
    return (z ^ (z >> 31)) >> 1


def eval_batches(images: torch.Tensor, labels: torch.Tensor,
                 batch_size: int = 1000) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The test set in order, in fixed-size batches."""
    for start in range(0, len(labels), batch_size):
        yield images[start:start + batch_size], labels[start:start + batch_size]
