"""Probes of any PyTorch model: one image through it with hooks on the watched layers, as a frame.

    layers = layer_table(model, probe_images)               # layers.py
    cap = capture(model, layers, image, target=label)       # image: (1, C, H, W), normalised
    cap = capture(model, layers, image, gradcam=True, gradient=True)   # with the upload's maps
    frame = probe_frame(layers, cap, pixels, step, ProbeSource(source="test", index=i))

capture keeps each layer's output and the gradient of the loss of `target` (the predicted class by
default) with respect to it, by torch.autograd.grad: the parameters' .grad, the user's training
step's, stay untouched. A hook keeps its module's output and hands the next layer a copy, so the
model's in-place ops (ReLU(inplace=True), `out += identity`) change the copy, never what is kept.
Grad-CAM and the input gradient are explain.py's, on the last conv layer's maps (or those of the
activation / norm right after it). Nothing is kept past a call: hooks are removed, modes put back.

probe_frame packs it as server/probes.py packs our own networks' probes (its tiles and tile cap),
and drops what would not fit in `budget` bytes: filter gradients first, then filters, then
activation gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..inference.explain import gradcam_index, gradcam_map, saliency_map
from ..probes import HEADER_ROOM, FrameBuilder, activation_tiles, filter_tiles, tile_cap
from ..protocol import MAX_PROBE_BYTES, ProbeSource
from .layers import WatchedLayer, evaluating, first_tensor, hooked, model_device

BLOB_HEADER = 256  # bytes of JSON one blob adds to a frame's header, at most
FRAME_HEADER = 256  # the magic, the header's length and its JSON without blobs, at most
KINDS = ("input", "activation", "activation_grad", "filter", "filter_grad")  # kept first when space is short


@dataclass
class Capture:
    """One image through a watched model; every tensor on the CPU, float32, detached."""
    outputs: list[torch.Tensor]  # each layer's output (1, ...); the softmax row's: the logits
    grads: list[torch.Tensor | None]  # d loss(target) / d output; None where nothing flows
    logits: torch.Tensor  # (1, K): the model's output (flattened when it is not (1, K))
    target: int  # the class explained: the predicted one unless given
    gradcam: torch.Tensor | None  # (H, W) in [0, 1]; None when not asked or no conv layer has maps
    gradcam_layer: int | None  # the layer index whose maps Grad-CAM weighs
    gradient: torch.Tensor | None  # (H, W) in [0, 1]: |d score / d input|, largest over channels


def capture(model: nn.Module, layers: list[WatchedLayer], image: torch.Tensor, target: int | None = None,
            *, gradcam: bool = False, gradient: bool = False) -> Capture:
    """Run `image` (1, C, H, W) through `model` in eval mode; `target`: the class whose loss is
    differentiated (the predicted one when None). gradcam, gradient: compute those maps too.
    ValueError when a layer is not called, or the target is not a class."""
    kept: dict[int, torch.Tensor] = {}  # layer index -> its first call's output

    def keeper(index: int):
        def hook(module: nn.Module, inputs: tuple[Any, ...], out: Any) -> torch.Tensor | None:
            t = first_tensor(out)
            if index in kept or t is None:
                return None
            if t is not out:  # in a tuple or a dict: kept as it is
                kept[index] = t
                return None
            if any(isinstance(i, torch.Tensor) and _shares_memory(i, out) for i in inputs):
                out = out.clone()  # an in-place or view module: the caller may still change its input
            kept[index] = out
            return out.clone()  # what the forward goes on with: its in-place ops change this copy
        return hook

    x = image.detach().to(model_device(model)).requires_grad_(True)
    watched = [(layer.module, keeper(layer.index)) for layer in layers if layer.module is not None]
    with evaluating(model), hooked(watched), torch.enable_grad():
        scores = first_tensor(model(x.clone()))  # a copy: the model's in-place ops never reach the leaf
    if scores is None:
        raise ValueError("the model's output holds no tensor")
    logits = scores.float().reshape(1, -1)
    missing = [layer.name for layer in layers if layer.module is not None and layer.index not in kept]
    if missing:
        raise ValueError(f"not called in this forward pass: {', '.join(missing)}")
    outputs = [logits if layer.module is None else kept[layer.index] for layer in layers]
    target = int(logits[0].argmax()) if target is None else int(target)
    if not 0 <= target < logits.shape[1]:
        raise ValueError(f"target {target} is not one of the model's {logits.shape[1]} classes")

    cam_at = gradcam_index([layer.row.type for layer in layers], {"conv"}) if gradcam else None
    if cam_at is not None and not (outputs[cam_at].dim() == 4 and outputs[cam_at].requires_grad):
        cam_at = None
    grads: list[torch.Tensor | None] = [None] * len(layers)
    score_grads: tuple[torch.Tensor | None, ...] = ()
    if logits.requires_grad:  # (a model may detach its output)
        wrt = ([x] if gradient else []) + ([outputs[cam_at]] if cam_at is not None else [])
        if wrt:
            score_grads = torch.autograd.grad(logits[0, target], wrt, retain_graph=True, allow_unused=True)
        loss = F.cross_entropy(logits, torch.tensor([target], device=logits.device))
        flowing = [i for i, out in enumerate(outputs) if out.requires_grad]
        for i, grad in zip(flowing, torch.autograd.grad(loss, [outputs[i] for i in flowing], allow_unused=True)):
            grads[i] = grad
    input_grad = score_grads[0] if gradient and score_grads else None
    cam_grad = score_grads[-1] if cam_at is not None and score_grads else None
    return Capture(
        outputs=[_cpu(out) for out in outputs], grads=[None if g is None else _cpu(g) for g in grads],
        logits=_cpu(logits), target=target,
        gradcam=None if cam_grad is None else _cpu(gradcam_map(outputs[cam_at][0].detach().float(),
                                                               cam_grad[0].float(), x.shape[-2:])),
        gradcam_layer=None if cam_grad is None else layers[cam_at].index,
        gradient=None if input_grad is None else _cpu(saliency_map(input_grad[0])))


def probe_frame(layers: list[WatchedLayer], cap: Capture, pixels: np.ndarray, step: int, source: ProbeSource,
                budget: int = MAX_PROBE_BYTES) -> bytes:
    """The probe frame of a capture, at most `budget` bytes; pixels: the image as shown, (H, W, C) uint8.
    Blobs: the input (layer -1), each layer's activation and activation_grad (the softmax row's: the
    probabilities), and each conv layer's filters and, after a training step, their gradients."""
    acts = [_maps(out.softmax(-1) if layer.module is None else out) for layer, out in zip(layers, cap.outputs)]
    grads = [None if g is None else _maps(g) for g in cap.grads]
    convs = {layer.index: layer.module for layer in layers if layer.row.type == "conv"}
    first_conv = min(convs, default=None)
    tiles = tile_cap(acts, grads, convs, budget - HEADER_ROOM - pixels.nbytes)
    blobs: list[tuple[int, str, Any, bool]] = [(-1, "input", pixels[None], False)]
    for layer, act, grad in zip(layers, acts, grads):
        blobs.append((layer.index, "activation", activation_tiles(act[0], tiles), False))
        if grad is not None:
            blobs.append((layer.index, "activation_grad", activation_tiles(grad[0], tiles), True))
        if layer.index in convs:
            weight = layer.module.weight
            colour = layer.index == first_conv and weight.shape[1] == 3
            blobs.append((layer.index, "filter", filter_tiles(weight, tiles, colour), False))
            if weight.grad is not None:
                blobs.append((layer.index, "filter_grad", filter_tiles(weight.grad, tiles, colour), True))
    out = FrameBuilder()
    for index, kind, data, symmetric in sorted(blobs, key=lambda blob: KINDS.index(blob[1])):
        if FRAME_HEADER + out.size + BLOB_HEADER * (len(out.blobs) + 1) + math.prod(data.shape) <= budget:
            out.add(index, kind, data, symmetric, (0.0, 255.0) if kind == "input" else None)
    return out.frame(step, source)


def _maps(x: torch.Tensor) -> torch.Tensor:
    """A layer's output (1, ...) as the tiles take it: (1, C, H, W) maps or a (1, N) vector;
    (1, T, F) as one map, (1, C, D, H, W) as C*D maps."""
    if x.dim() == 3:
        return x[:, None]
    if x.dim() > 4:
        return x.flatten(1, -3)
    return x if x.dim() in (2, 4) else x.reshape(1, -1)


def _shares_memory(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


def _cpu(x: torch.Tensor) -> torch.Tensor:
    return x.detach().float().cpu()
