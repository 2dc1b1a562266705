"""Probes: one image through the live model with hooks on every top-level layer, as one frame.

A probe captures each layer's activation and its gradient with respect to the loss of the
image's true label, plus every top-level conv layer's filters and their gradients from the
last training step, and packs them as uint8 tiles into one binary frame (server/protocol.py).
It uses torch.autograd.grad, so the parameters' .grad (the training step's) stay untouched.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .protocol import MAX_PROBE_BYTES, Blob, ProbeHeader, ProbeSource, encode_probe

MAX_TILES = 64  # per blob
HEADER_ROOM = 32 * 1024  # bytes kept for the JSON header


def capture(model: nn.Module, image: torch.Tensor,
            label: int) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
    """Each top-level layer's output for `image` (1, C, H, W), and its gradient (None if none)."""
    outputs: list[torch.Tensor] = []
    hooks = [layer.register_forward_hook(lambda m, i, out: outputs.append(out))
             for layer in model.layers]
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            logits = model(image)
            loss = F.cross_entropy(logits.float(), torch.tensor([label], device=image.device))
            wanted = [i for i, out in enumerate(outputs) if out.requires_grad]
            grads = torch.autograd.grad(loss, [outputs[i] for i in wanted], allow_unused=True)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    by_layer: list[torch.Tensor | None] = [None] * len(outputs)
    for i, grad in zip(wanted, grads):
        by_layer[i] = grad
    return [out.detach() for out in outputs], by_layer


def activation_tiles(x: torch.Tensor, cap: int) -> torch.Tensor:
    """(C, H, W) -> the first `cap` channels; a vector (N,) -> one tile (1, 1, N)."""
    return x[:cap] if x.dim() == 3 else x.reshape(1, 1, -1)


def filter_tiles(weight: torch.Tensor, cap: int, colour: bool) -> torch.Tensor:
    """(O, I, k, k) -> RGB tiles (n, k, k, 3) when `colour`, else one tile per (out, in) pair."""
    if colour:
        return weight[:cap].permute(0, 2, 3, 1)
    return weight.reshape(-1, *weight.shape[2:])[:cap]


def quantize(x: torch.Tensor, symmetric: bool) -> tuple[np.ndarray, float, float]:
    """Linear map of x's range onto 0..255; symmetric ranges put zero at 128 (for gradients)."""
    x = x.detach().float()
    lo, hi = (t.item() for t in torch.aminmax(x))
    if symmetric:
        hi = max(abs(lo), abs(hi))
        lo = -hi
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    q = ((x - lo) * scale).round_().clamp_(0, 255).to(torch.uint8)
    return q.contiguous().cpu().numpy(), lo, hi


class FrameBuilder:
    """Collects blobs and their bytes, then packs them into one frame."""

    def __init__(self) -> None:
        self.blobs: list[Blob] = []
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, layer: int, kind: str, tiles: torch.Tensor | np.ndarray,
            symmetric: bool = False, bounds: tuple[float, float] | None = None) -> None:
        """tiles: (count, H, W) or (count, H, W, 3); bounds given means already uint8."""
        if bounds is None:
            data, lo, hi = quantize(tiles, symmetric)
        else:
            data, (lo, hi) = np.ascontiguousarray(tiles, np.uint8), bounds
        count, height, width = data.shape[:3]
        channels = data.shape[3] if data.ndim == 4 else 1
        raw = data.tobytes()
        self.blobs.append(Blob(layer=layer, kind=kind, count=count, height=height, width=width,
                               channels=channels, min=lo, max=hi, offset=self.size, length=len(raw)))
        self.parts.append(raw)
        self.size += len(raw)

    def frame(self, step: int, source: ProbeSource) -> bytes:
        return encode_probe(ProbeHeader(step=step, image=source, blobs=self.blobs), b"".join(self.parts))


def _tile_bytes(shape: tuple[int, ...], cap: int) -> int:
    """Bytes of a blob of activation_tiles with this (C, H, W) or (N,) shape."""
    return min(shape[0], cap) * shape[1] * shape[2] if len(shape) == 3 else shape[0]


def tile_cap(activations: list[torch.Tensor], grads: list[torch.Tensor | None],
             convs: dict[int, nn.Conv2d], budget: int) -> int:
    """The most tiles per blob (<= MAX_TILES) that keeps the payload within `budget` bytes."""
    cap = MAX_TILES
    while cap > 1:
        size = sum(_tile_bytes(tuple(a.shape[1:]), cap) * (2 if g is not None else 1)
                   for a, g in zip(activations, grads))
        size += sum(2 * min(c.out_channels * c.in_channels, cap) * math.prod(c.kernel_size) * 3
                    for c in convs.values())
        if size <= budget:
            break
        cap //= 2
    return cap


def probe(model: nn.Module, image: torch.Tensor, pixels: np.ndarray, label: int, step: int,
          source: ProbeSource, budget: int = MAX_PROBE_BYTES - HEADER_ROOM) -> bytes:
    """One probe frame for `image` (1, C, H, W, normalised) whose raw pixels are (H, W, 3) uint8."""
    activations, grads = capture(model, image, label)
    return pack(model, activations, grads, pixels, step, source, budget)


def pack(model: nn.Module, activations: list[torch.Tensor], grads: list[torch.Tensor | None],
         pixels: np.ndarray, step: int, source: ProbeSource,
         budget: int = MAX_PROBE_BYTES - HEADER_ROOM) -> bytes:
    """The frame of one image's layer outputs (1, ...) and their gradients (None where there are none)."""
    convs = {i: layer for i, layer in enumerate(model.layers) if isinstance(layer, nn.Conv2d)}
    first_conv = min(convs, default=None)
    cap = tile_cap(activations, grads, convs, budget)
    out = FrameBuilder()
    out.add(-1, "input", pixels[None], bounds=(0.0, 255.0))
    for i, (act, grad) in enumerate(zip(activations, grads)):
        if model.spec[i]["type"] == "softmax":  # an Identity in the network: show probabilities
            act = act.float().softmax(-1)
        out.add(i, "activation", activation_tiles(act[0], cap))
        if grad is not None:
            out.add(i, "activation_grad", activation_tiles(grad[0], cap), symmetric=True)
        if i in convs:
            weight = convs[i].weight
            colour = i == first_conv and weight.shape[1] == 3
            out.add(i, "filter", filter_tiles(weight, cap, colour))
            if weight.grad is not None:
                out.add(i, "filter_grad", filter_tiles(weight.grad, cap, colour), symmetric=True)
    return out.frame(step, source)
