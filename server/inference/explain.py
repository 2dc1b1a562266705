"""Classify one image and say why: probabilities, every layer's maps, Grad-CAM and input gradients.

    result = classify(model, pixels, fmt)   # pixels: (H, W, C) uint8 in the network's InputFormat
    result.probabilities                    # (classes,), sums to 1
    result.gradcam, result.gradient         # (H, W) in [0, 1]: where the evidence is

One forward pass through the top-level layers keeps every output; up to two backward passes with
torch.autograd.grad (never .backward, so no parameter's .grad is touched) give

- the gradient of the explained class's score (its logit) with respect to the input and to the
  Grad-CAM layer, in one pass: Grad-CAM (Selvaraju et al., 2017) weighs that layer's maps by the
  mean of their gradients, keeps the positive part and scales it up to the input's size; the input
  gradient's magnitude (largest over the colour channels) is the plain saliency map (Simonyan et
  al., 2013);
- the gradient of the loss of the explained class with respect to every layer's output: the
  `activation_grad` of a probe frame, so the page's layer view can show the upload like a probe.

Each is computed only when asked for (`gradient`, `gradcam`, `layer_grads`): with none, the forward
pass records no graph; with Grad-CAM alone, the graph starts at the Grad-CAM layer.
The model runs in eval mode (batchnorm's running statistics, no dropout) and is left as it was.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..train.inputs import CIFAR10, InputFormat
from ..train.tta import tta_logits

ELEMENTWISE = frozenset({"relu", "gelu", "sigmoid", "tanh", "batchnorm", "scale", "dropout"})
HAS_CONV = frozenset({"conv", "residual", "inception", "nin", "whiten"})


@dataclass
class Classification:
    probabilities: torch.Tensor  # (classes,) float32, sums to 1
    target: int  # the class explained: the most likely one unless asked for another
    gradcam: torch.Tensor | None  # (H, W) in [0, 1]; None when not asked or the network has no conv layer
    gradcam_layer: int | None  # the top-level layer whose maps Grad-CAM weighs (None when not asked)
    gradient: torch.Tensor | None  # (H, W) in [0, 1]: |d score / d input|, largest over channels
    activations: list[torch.Tensor]  # every top-level layer's output, (1, ...)
    activation_grads: list[torch.Tensor | None] | None  # d loss(target) / d output; None where nothing
    # flows, and None for the whole list when not asked


def gradcam_layer(model: nn.Module) -> int | None:
    """The last conv-bearing top-level layer, or the activation / norm right after it (its maps
    as the classifier sees them); None when there is no such layer with spatial maps."""
    return gradcam_index([layer["type"] for layer in model.spec])


def gradcam_index(types: Sequence[str], convs: Collection[str] = HAS_CONV) -> int | None:
    """The last of `types` in `convs`, or the last of the ELEMENTWISE run right after it; None without one."""
    found = [i for i, kind in enumerate(types) if kind in convs]
    if not found:
        return None
    i = found[-1]
    while i + 1 < len(types) and types[i + 1] in ELEMENTWISE:
        i += 1
    return i


def gradcam_map(maps: torch.Tensor, grads: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Grad-CAM of one image: (C, h, w) maps weighed by the means of their score gradients (C, h, w),
    the positive part scaled up to `size`, (H, W) in [0, 1]."""
    weights = grads.mean((1, 2))  # (C,): how much each map raises the class score
    cam = F.relu((weights[:, None, None] * maps).sum(0))  # (h, w)
    cam = F.interpolate(cam[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    return _unit(cam.clamp_min(0))


def saliency_map(input_grad: torch.Tensor) -> torch.Tensor:
    """The plain saliency of one image's score gradient (C, H, W): its magnitude, largest over the
    channels, (H, W) in [0, 1]."""
    return _unit(input_grad.abs().amax(0))


def _unit(x: torch.Tensor) -> torch.Tensor:
    """Scaled so that its largest value is 1 (all zeros stay zeros)."""
    top = x.max()
    return x / top if top > 0 else torch.zeros_like(x)


def classify(model: nn.Module, pixels: np.ndarray | torch.Tensor, fmt: InputFormat = CIFAR10,
             target: int | None = None, *, gradient: bool = True, gradcam: bool = True,
             layer_grads: bool = True, flip_tta: bool = False, tta_shift: int = 0) -> Classification:
    """Probabilities, maps and saliency of one (H, W, C) uint8 image; `target`: the class to explain.

    gradient, gradcam, layer_grads: which explanations to compute (the input gradient, Grad-CAM, the
    loss's gradient at every layer); those not asked are None. flip_tta, tta_shift: the
    probabilities averaged over the mirror and shifted copies too (server/train/tta.py), as the
    network's test set is evaluated; the maps and explanations are the image's own."""
    device = next(model.parameters(), torch.empty(0)).device
    x = fmt.to_tensor(pixels, device)
    graph = gradient or layer_grads  # every layer's output needs its gradient: the graph starts at the input
    cam_at = gradcam_layer(model) if gradcam else None
    was_training = model.training
    if was_training:  # (the server's copy is always in eval mode: setting it costs a walk over every module)
        model.eval()
    try:
        with torch.set_grad_enabled(graph or cam_at is not None):
            x.requires_grad_(graph)
            outputs: list[torch.Tensor] = []
            h = x
            for i, layer in enumerate(model.layers):
                h = layer(h)
                if i == cam_at and not h.requires_grad:  # Grad-CAM alone: backward from here only
                    h = h.detach().requires_grad_(True)
                outputs.append(h)
            logits = h.float()  # (1, classes): the softmax layer is an Identity
            probabilities = logits.softmax(1)[0].detach()
            if flip_tta or tta_shift:
                with torch.no_grad():
                    probabilities = tta_logits(model, x.detach(), flip_tta, tta_shift).softmax(1)[0]
            target = int(probabilities.argmax()) if target is None else int(target)
            if cam_at is not None and outputs[cam_at].dim() != 4:
                cam_at = None
            wrt = ([x] if gradient else []) + ([outputs[cam_at]] if cam_at is not None else [])
            score_grads = torch.autograd.grad(logits[0, target], wrt, retain_graph=layer_grads) if wrt else ()
            if layer_grads:
                loss = F.cross_entropy(logits, torch.tensor([target], device=device))
                flowing = [i for i, out in enumerate(outputs) if out.requires_grad]
                loss_grads = torch.autograd.grad(loss, [outputs[i] for i in flowing], allow_unused=True)
    finally:
        if was_training:
            model.train()
    saliency = saliency_map(score_grads[0][0]).detach() if gradient else None  # (H, W)
    cam = None
    if cam_at is not None:
        cam = gradcam_map(outputs[cam_at][0].detach().float(), score_grads[-1][0].float(), x.shape[-2:])
    by_layer: list[torch.Tensor | None] | None = None
    if layer_grads:
        by_layer = [None] * len(outputs)
        for i, grad in zip(flowing, loss_grads):
            by_layer[i] = grad
    return Classification(probabilities=probabilities.cpu(), target=target, gradcam=cam, gradcam_layer=cam_at,
                          gradient=saliency, activations=[out.detach() for out in outputs],
                          activation_grads=by_layer)
