"""A validated spec as an nn.Module: one module per top-level layer, so probes can hook each one."""

from __future__ import annotations

import math

import torch
from torch import nn

from .spec import (Shape, fmt_shape, input_shape, nin_layers, output_shape, shortcut_batchnorm,
                   shortcut_stride, validate)
from .whiten import Whiten

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
                                           "gelu": nn.GELU, "none": nn.Identity}


class Dense(nn.Linear):
    """A fully connected layer that flattens a (N, C, H, W) input first."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(1))


class Scale(nn.Module):
    """Multiplies its input by a constant."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


class GlobalPool(nn.Module):
    """(N, C, H, W) -> (N, C): the average or maximum of each channel."""

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3)) if self.mode == "avg" else x.amax((2, 3))

    def extra_repr(self) -> str:
        return f"mode={self.mode}"


class Residual(nn.Module):
    """activation(body(x) + shortcut(x))."""

    def __init__(self, body: nn.Sequential, shortcut: nn.Module, activation: nn.Module):
        super().__init__()
        self.body, self.shortcut, self.activation = body, shortcut, activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.body(x) + self.shortcut(x))


class Inception(nn.Module):
    """Every branch sees the same input; their outputs are concatenated on channels."""

    def __init__(self, branches: list[nn.Sequential]):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


def _modules(layers: list[dict], shape: Shape) -> list[nn.Module]:
    """Modules for normalised layers run in order from `shape`."""
    modules = []
    for layer in layers:
        modules.append(_module(layer, shape))
        shape = output_shape(layer, shape)
    return modules


def _sequential(layers: list[dict], shape: Shape) -> nn.Sequential:
    return nn.Sequential(*_modules(layers, shape))


def _shortcut(layer: dict, shape: Shape, out: Shape) -> nn.Module:
    stride = shortcut_stride(layer, shape, out)
    if stride is None:
        return nn.Identity()
    norm = shortcut_batchnorm(layer)
    conv = nn.Conv2d(shape[0], out[0], 1, stride, bias=not norm)
    return nn.Sequential(conv, nn.BatchNorm2d(out[0])) if norm else nn.Sequential(conv)


def _module(layer: dict, shape: Shape) -> nn.Module:
    """The module for one normalised layer whose input has `shape`."""
    kind = layer["type"]
    if kind == "conv":
        return nn.Conv2d(shape[0], layer["filters"], layer["size"], layer["stride"], layer["pad"], bias=layer["bias"])
    if kind == "pool":
        pool = nn.MaxPool2d if layer["mode"] == "max" else nn.AvgPool2d
        return pool(layer["size"], layer["stride"], layer["pad"])
    if kind == "globalpool":
        return GlobalPool(layer["mode"])
    if kind in ACTIVATIONS:
        return ACTIVATIONS[kind]()
    if kind == "batchnorm":
        return nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0])
    if kind == "dropout":
        return nn.Dropout(layer["p"])
    if kind == "flatten":
        return nn.Flatten()
    if kind == "scale":
        return Scale(layer["factor"])
    if kind == "fc":
        return Dense(math.prod(shape), layer["units"], bias=layer["bias"])
    if kind == "whiten":
        return Whiten(shape[0], layer["size"])
    if kind == "nin":
        return _sequential(nin_layers(layer), shape)
    if kind == "residual":
        out = output_shape(layer, shape)
        return Residual(_sequential(layer["layers"], shape), _shortcut(layer, shape, out),
                        ACTIVATIONS[layer["activation"]]())
    if kind == "inception":
        return Inception([_sequential(branch, shape) for branch in layer["branches"]])
    return nn.Identity()  # input; softmax (the network returns logits)


class Network(nn.Module):
    """layers[i] runs spec[i]; forward returns logits (N, num_classes): softmax is an Identity here."""

    def __init__(self, spec: list[dict], num_classes: int = 10):
        super().__init__()
        self.spec = validate(spec, num_classes)
        self.input_shape = input_shape(self.spec)
        self.num_classes = num_classes
        self.layers = nn.ModuleList(_modules(self.spec, self.input_shape))

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
