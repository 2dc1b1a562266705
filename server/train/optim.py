"""Optimisers and learning-rate schedules, both driven by a TrainConfig."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..models.whiten import Whiten
from .config import TrainConfig


def param_groups(model: nn.Module, cfg: TrainConfig) -> list[dict]:
    """The trainable parameters, with the batchnorm and whitening biases in a group of their own
    when cfg.bias_lr scales their learning rate (each group's "lr_scale")."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    if cfg.bias_lr == 1:
        return [{"params": trainable, "lr_scale": 1.0}]
    biases = {id(m.bias) for m in model.modules() if isinstance(m, (nn.modules.batchnorm._BatchNorm, Whiten))
              and m.bias is not None}
    return [{"params": [p for p in trainable if id(p) not in biases], "lr_scale": 1.0},
            {"params": [p for p in trainable if id(p) in biases], "lr_scale": cfg.bias_lr}]


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser named by cfg.optimizer over the model's trainable parameters."""
    params = param_groups(model, cfg)
    if cfg.optimizer == "sgd":
        optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                                    nesterov=cfg.nesterov and cfg.momentum > 0)
    elif cfg.optimizer == "adamw":
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=(cfg.momentum, 0.999))
    elif cfg.optimizer == "adadelta":
        optimizer = torch.optim.Adadelta(params, lr=cfg.lr, rho=cfg.momentum)
    else:
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}")
    apply_hyperparams(optimizer, cfg, cfg.lr)
    return optimizer


def apply_hyperparams(optimizer: torch.optim.Optimizer, cfg: TrainConfig, lr: float) -> None:
    """Write lr, momentum and weight decay into every parameter group (takes effect next step).

    A group's lr is lr x its lr_scale and its weight decay is divided by it, so that their product,
    the weights' shrinkage, stays that of the other groups. With cfg.decoupled_wd an SGD group keeps
    its decay in "decoupled" for decay_weights and gives the optimiser none."""
    for group in optimizer.param_groups:
        scale = group.get("lr_scale", 1.0)
        group["lr"] = lr * scale
        decay = cfg.weight_decay / scale
        decoupled = cfg.decoupled_wd and "momentum" in group
        group["weight_decay"] = 0.0 if decoupled else decay
        group["decoupled"] = decay if decoupled else 0.0
        if "momentum" in group:
            group["momentum"] = cfg.momentum
            group["nesterov"] = cfg.nesterov and cfg.momentum > 0
        elif "betas" in group:
            group["betas"] = (cfg.momentum, group["betas"][1])
        elif "rho" in group:
            group["rho"] = cfg.momentum


@torch.no_grad()
def decay_weights(optimizer: torch.optim.Optimizer) -> None:
    """Decoupled weight decay: w <- w (1 - lr x decay) for the groups that keep it (apply_hyperparams)."""
    for group in optimizer.param_groups:
        if group.get("decoupled"):
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                torch._foreach_mul_(params, 1 - group["lr"] * group["decoupled"])


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
