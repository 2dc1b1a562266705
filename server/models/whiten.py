"""Patch whitening: a frozen first conv that decorrelates size x size patches (as in airbench).

Its filters are the eigenvectors of the patch covariance scaled by 1/sqrt(eigenvalue + eps), and their
negatives, so after a GELU/ReLU both signs of every whitened direction survive. The weights are set
from data by `init_whitening` and never trained; a bias, if it has one, starts at zero and is trained
(the recipe may freeze it after a few epochs: TrainConfig.whiten_bias_epochs).
"""

from __future__ import annotations

import torch
from torch import nn


class Whiten(nn.Conv2d):
    """size x size conv, stride 1, no padding, 2*C*size*size filters, frozen; an optional bias."""

    def __init__(self, channels: int, size: int, bias: bool = False):
        super().__init__(channels, 2 * channels * size * size, size, bias=bias)
        self.weight.requires_grad_(False)
        if bias:
            nn.init.zeros_(self.bias)


class _Captured(Exception):
    """Stops a forward pass once the input of the layer we want has been seen."""


def _input_of(model: nn.Module, layer: nn.Module, images: torch.Tensor) -> torch.Tensor:
    captured: list[torch.Tensor] = []

    def hook(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        captured.append(args[0])
        raise _Captured

    handle = layer.register_forward_pre_hook(hook)
    try:
        model(images)
    except _Captured:
        pass
    finally:
        handle.remove()
    return captured[0]


def whitening_filters(x: torch.Tensor, size: int, eps: float = 5e-4) -> torch.Tensor:
    """(2*C*size*size, C, size, size) filters that whiten the size x size patches of x (N, C, H, W)."""
    c = x.shape[1]
    patches = x.unfold(2, size, 1).unfold(3, size, 1)  # (N, C, H', W', size, size)
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * size * size).double()
    covariance = patches.T @ patches / len(patches)  # second moment: the images are normalised
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # ascending
    filters = (eigenvectors.T / torch.sqrt(eigenvalues.clamp(min=0) + eps)[:, None]).flip(0)
    filters = filters.reshape(-1, c, size, size).to(x.dtype)
    return torch.cat([filters, -filters])


@torch.no_grad()
def init_whitening(model: nn.Module, images: torch.Tensor, eps: float = 5e-4) -> None:
    """Set every Whiten layer in `model` from `images` (N, C, H, W), float, normalised; a few thousand suffice."""
    was_training = model.training
    model.eval()
    try:
        for layer in [m for m in model.modules() if isinstance(m, Whiten)]:
            x = _input_of(model, layer, images)
            layer.weight.copy_(whitening_filters(x, layer.kernel_size[0], eps))
    finally:
        model.train(was_training)
