"""Example predictions: the live model's top 3 classes for a fixed sample of test images."""

from __future__ import annotations

import numpy as np
import torch

from ..protocol import Guess, Prediction, Predictions


def sample(labels: np.ndarray, n: int = 8) -> list[int]:
    """The first test image of each of the first `n` classes (topped up in order if fewer)."""
    picked = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)[:n]]
    rest = [i for i in range(len(labels)) if i not in picked]
    return sorted(picked + rest[:n - len(picked)])


def predictions(probs: torch.Tensor, indices: list[int], labels: np.ndarray, classes: list[str],
                step: int, k: int = 3) -> Predictions:
    """probs: (len(indices), classes) class probabilities of the sampled images."""
    p, top = probs.float().topk(min(k, probs.shape[1]), dim=1)
    items = [Prediction(index=i, label=classes[labels[i]],
                        top=[Guess(class_=classes[c], p=q) for c, q in zip(ci, pi)])
             for i, ci, pi in zip(indices, top.tolist(), p.tolist())]
    return Predictions(step=step, items=items)
