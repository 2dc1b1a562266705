"""Slide a classifier over a whole photo: each class's probability at every window, boxes where it is sure.

    sliding = recast(model)                          # server/models/recast.py
    found = slide(sliding, fmt.to_tensor(photo.pixels), exact=True, threshold=0.5)
    found.probabilities      # (classes, rows, cols): window (i, j) is the crop at (i, j) * stride
    found.boxes              # the strongest windows, strongest first

A box is a window whose class probability is a local maximum (no higher among its 8 neighbours
on the grid) and at least `threshold`; of two boxes of one class that overlap by more than
OVERLAP (intersection over union), the weaker goes (non-maximum suppression). All boxes are one
window's size: the photo's size is the scale the network looks at.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..models.recast import Costs, Sliding

MAX_MACS = 5_000_000_000  # a slide may cost this much (about 2 s on one CPU thread); more is refused
MAX_BOXES = 20
OVERLAP = 0.3  # intersection over union above which the weaker of two boxes of one class is dropped


class TooCostly(ValueError):
    """The slide would take too long; says how much it would cost and what to do instead."""


@dataclass(frozen=True)
class Box:
    cls: int
    p: float
    x: int  # the window's left edge, in the photo's pixels
    y: int
    width: int
    height: int


@dataclass
class Found:
    probabilities: torch.Tensor  # (classes, rows, cols) float32
    boxes: list[Box]  # strongest first
    costs: Costs
    exact: bool  # each window exactly as the network sees a crop (else: one pass)


def peaks(probabilities: torch.Tensor, threshold: float, window: tuple[int, int],
          stride: tuple[int, int]) -> list[Box]:
    """Windows whose class probability is a local maximum on the grid and >= threshold, strongest first."""
    nearby = F.max_pool2d(probabilities[None], 3, 1, 1)[0]
    cls, row, col = torch.nonzero((probabilities >= nearby) & (probabilities >= threshold), as_tuple=True)
    p = probabilities[cls, row, col]
    boxes = [Box(int(k), round(float(q), 4), int(j) * stride[1], int(i) * stride[0], window[1], window[0])
             for k, i, j, q in zip(cls, row, col, p)]
    return sorted(boxes, key=lambda b: -b.p)


def overlap(a: Box, b: Box) -> float:
    """Intersection over union."""
    w = max(0, min(a.x + a.width, b.x + b.width) - max(a.x, b.x))
    h = max(0, min(a.y + a.height, b.y + b.height) - max(a.y, b.y))
    inter = w * h
    return inter / (a.width * a.height + b.width * b.height - inter)


def suppress(boxes: list[Box], most: float = OVERLAP) -> list[Box]:
    """Non-maximum suppression, class by class: keep a box unless a stronger one of its class overlaps it
    by more than `most`."""
    kept: list[Box] = []
    for box in boxes:  # strongest first
        if all(k.cls != box.cls or overlap(k, box) <= most for k in kept):
            kept.append(box)
    return kept


def slide(sliding: Sliding, photo: torch.Tensor, exact: bool = True, threshold: float = 0.5,
          max_macs: int = MAX_MACS) -> Found:
    """Every window's class probabilities over a (1, C, H, W) normalised photo, and the boxes."""
    height, width = photo.shape[2:]
    costs = sliding.costs(height, width)
    macs = costs.exact if exact else sum(costs.one_pass)
    if macs > max_macs:
        other = "" if not exact else (f"; one pass over it would take {sum(costs.one_pass) / 1e9:.2f}G"
                                      if sum(costs.one_pass) <= max_macs else "")
        raise TooCostly(f"sliding this network over a {width}x{height} photo "
                        f"{'exactly ' if exact else ''}would take {macs / 1e9:.2f}G multiply-accumulates "
                        f"({costs.windows:,} windows); the limit is {max_macs / 1e9:.0f}G{other}: "
                        "choose a smaller photo")
    logits = sliding.exact(photo) if exact else sliding(photo)
    probabilities = logits[0].float().softmax(0)
    window = sliding.window[1:]
    boxes = suppress(peaks(probabilities, threshold, window, sliding.stride))[:MAX_BOXES]
    return Found(probabilities, boxes, costs, exact)
