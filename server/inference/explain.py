"""Classify one image and say why: probabilities, every layer's maps, Grad-CAM and input gradients.

    result = classify(model, pixels, fmt)   # pixels: (H, W, C) uint8 in the network's InputFormat
    result.probabilities                    # (classes,), sums to 1
    result.gradcam, result.gradient         # (H, W) in [0, 1]: where the evidence is

One forward pass through the top-level layers keeps every output; two backward passes with
torch.autograd.grad (never .backward, so no parameter's .grad is touched) give

- the gradient of the explained class's score (its logit) with respect to the input and to the
  Grad-CAM layer: Grad-CAM (Selvaraju et al., 2017) weighs that layer's maps by the mean of their
  gradients, keeps the positive part and scales it up to the input's size; the input gradient's
  magnitude (largest over the colour channels) is the plain saliency map (Simonyan et al., 2013);
- the gradient of the loss of the explained class with respect to every layer's output: the
  `activation_grad` of a probe frame, so the page's layer view can show the upload like a probe.

The model runs in eval mode (batchnorm's running statistics, no dropout) and is left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..train.inputs import CIFAR10, InputFormat

ELEMENTWISE = frozenset({"relu", "gelu", "sigmoid", "tanh", "batchnorm", "scale", "dropout"})
HAS_CONV = frozenset({"conv", "residual", "inception", "nin", "whiten"})


@dataclass
class Classification:
    probabilities: torch.Tensor  # (classes,) float32, sums to 1
    target: int  # the class explained: the most likely one unless asked for another
    gradcam: torch.Tensor | None  # (H, W) in [0, 1]; None when the network has no conv layer
    gradcam_layer: int | None  # the top-level layer whose maps Grad-CAM weighs
    gradient: torch.Tensor  # (H, W) in [0, 1]: |d score / d input|, largest over channels
    activations: list[torch.Tensor]  # every top-level layer's output, (1, ...)
    activation_grads: list[torch.Tensor | None]  # d loss(target) / d output; None where nothing flows


def gradcam_layer(model: nn.Module) -> int | None:
    """The last conv-bearing top-level layer, or the activation / norm right after it (its maps
    as the classifier sees them); None when there is no such layer with spatial maps."""
    spec = model.spec
    convs = [i for i, layer in enumerate(spec) if layer["type"] in HAS_CONV]
    if not convs:
        return None
    i = convs[-1]
    while i + 1 < len(spec) and spec[i + 1]["type"] in ELEMENTWISE:
        i += 1
    return i


def _unit(x: torch.Tensor) -> torch.Tensor:
    """Scaled so that its largest value is 1 (all zeros stay zeros)."""
    top = x.max()
    return x / top if top > 0 else torch.zeros_like(x)


def classify(model: nn.Module, pixels: np.ndarray | torch.Tensor, fmt: InputFormat = CIFAR10,
             target: int | None = None) -> Classification:
    """Probabilities, maps and saliency of one (H, W, C) uint8 image; `target`: the class to explain."""
    device = next(model.parameters(), torch.empty(0)).device
    x = fmt.to_tensor(pixels, device).requires_grad_(True)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            outputs: list[torch.Tensor] = []
            h = x
            for layer in model.layers:
                h = layer(h)
                outputs.append(h)
            logits = h.float()  # (1, classes): the softmax layer is an Identity
            probabilities = logits.softmax(1)[0].detach()
            target = int(probabilities.argmax()) if target is None else int(target)
            cam_at = gradcam_layer(model)
            if cam_at is not None and outputs[cam_at].dim() != 4:
                cam_at = None
            wrt = [x] + ([outputs[cam_at]] if cam_at is not None else [])
            score_grads = torch.autograd.grad(logits[0, target], wrt, retain_graph=True)
            loss = F.cross_entropy(logits, torch.tensor([target], device=device))
            flowing = [i for i, out in enumerate(outputs) if out.requires_grad]
            loss_grads = torch.autograd.grad(loss, [outputs[i] for i in flowing], allow_unused=True)
    finally:
        model.train(was_training)
    size = x.shape[-2:]
    gradient = _unit(score_grads[0][0].abs().amax(0))  # (H, W)
    gradcam = None
    if cam_at is not None:
        maps, grads = outputs[cam_at][0].detach().float(), score_grads[1][0].float()  # (C, h, w)
        weights = grads.mean((1, 2))  # (C,): how much each map raises the class score
        cam = F.relu((weights[:, None, None] * maps).sum(0))  # (h, w)
        cam = F.interpolate(cam[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
        gradcam = _unit(cam.clamp_min(0))
    by_layer: list[torch.Tensor | None] = [None] * len(outputs)
    for i, grad in zip(flowing, loss_grads):
        by_layer[i] = grad
    return Classification(probabilities=probabilities.cpu(), target=target, gradcam=gradcam,
                          gradcam_layer=cam_at, gradient=gradient.detach(),
                          activations=[out.detach() for out in outputs], activation_grads=by_layer)
