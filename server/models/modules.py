"""The network's own modules, beside torch's: what some layer types build (server/models/layers.py)."""

from __future__ import annotations

import torch
from torch import nn


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
