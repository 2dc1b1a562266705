"""A validated spec as an nn.Module: one module per top-level layer, so probes can hook each one."""

from __future__ import annotations

import torch
from torch import nn

from .fields import fmt_shape
from .layers import module_list
from .spec import input_shape, validate


class Network(nn.Module):
    """layers[i] runs spec[i]; forward returns logits (N, num_classes): softmax is an Identity here."""

    def __init__(self, spec: list[dict], num_classes: int = 10):
        super().__init__()
        self.spec = validate(spec, num_classes)
        self.input_shape = input_shape(self.spec)
        self.num_classes = num_classes
        self.layers = nn.ModuleList(module_list(self.spec, self.input_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, num_classes)
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"expected images of shape (N, {', '.join(map(str, self.input_shape))}), "
                             f"got {tuple(x.shape)}; the spec's input is {fmt_shape(self.input_shape)}")
        for layer in self.layers:
            x = layer(x)
        return x


def build_model(spec: list[dict], num_classes: int = 10) -> Network:
    """Validate `spec` and build its module (raises SpecError)."""
    return Network(spec, num_classes)
