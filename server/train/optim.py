"""Optimisers and learning-rate schedules, both driven by a TrainConfig."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import TrainConfig


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser named by cfg.optimizer over the model's trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               nesterov=cfg.nesterov and cfg.momentum > 0,
                               weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=(cfg.momentum, 0.999),
                                 weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adadelta":
        return torch.optim.Adadelta(params, lr=cfg.lr, rho=cfg.momentum,
                                    weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}")


def apply_hyperparams(optimizer: torch.optim.Optimizer, cfg: TrainConfig, lr: float) -> None:
    """Write lr, momentum and weight decay into every parameter group (takes effect next step)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
        group["weight_decay"] = cfg.weight_decay
        if "momentum" in group:
            group["momentum"] = cfg.momentum
            group["nesterov"] = cfg.nesterov and cfg.momentum > 0
        elif "betas" in group:
            group["betas"] = (cfg.momentum, group["betas"][1])
        elif "rho" in group:
            group["rho"] = cfg.momentum


def lr_factor(progress: float, cfg: TrainConfig) -> float:
    """Multiplier on cfg.lr at `progress` (fraction of the run done, 0..1).

    constant: 1 after an optional linear warm-up.
    linear:   linear warm-up from 0, then linear decay to 0 (the speed runs' triangle).
    cosine:   linear warm-up from 0, then half a cosine down to 0.
    onecycle: cosine warm-up from 1/25, then cosine down to 1/10,000 (Smith's 1cycle shape).
    """
    p = min(max(progress, 0.0), 1.0)
    w = cfg.warmup
    if cfg.schedule == "onecycle":
        start, end = 1 / 25, 1e-4
        if p < w:
            return start + (1 - start) * (1 - math.cos(math.pi * p / w)) / 2
        return end + (1 - end) * (1 + math.cos(math.pi * (p - w) / (1 - w))) / 2
    if p < w:
        return p / w
    if cfg.schedule == "constant":
        return 1.0
    rest = (p - w) / (1 - w)
    if cfg.schedule == "linear":
        return 1 - rest
    return (1 + math.cos(math.pi * rest)) / 2
