"""The parts of a training recipe that act on the model itself rather than on the optimiser or
the data: weight initialisation, batchnorm's settings, the whitening bias and lookahead.

Each is switched by a TrainConfig field (config.py says what it means); the speed-run preset
(`fast`, server/models/presets.py) turns them on and benchmarks/ablation.py measures each one.
"""

from __future__ import annotations

import torch
from torch import nn

from ..models.whiten import Whiten
from .config import TrainConfig

LOOKAHEAD_EVERY = 5  # steps between two lookahead pulls
LOOKAHEAD_DECAY = 0.95 ** LOOKAHEAD_EVERY  # the slow weights' share after a pull, at the end of the run


def init_weights(model: nn.Module, init: str) -> None:
    """xavier: Xavier-uniform weights for every conv and fc layer (Glorot & Bengio, 2010), as d2l.ai's
    train_ch6 does. dirac: every 3x3 conv (the whitening layer aside) passes its first input channels
    straight through at the start, so a deep stack begins near the identity (airbench). Biases and
    the other weights keep PyTorch's initialisation."""
    for module in model.modules():
        if init == "xavier" and isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
        if init == "dirac" and type(module) is nn.Conv2d and module.kernel_size == (3, 3):
            weight = module.weight.data
            nn.init.dirac_(weight[:weight.shape[1]])  # out channel i <- in channel i, for i < in


def set_batchnorm(model: nn.Module, cfg: TrainConfig) -> None:
    """Each batchnorm's running-statistics momentum, and its scales frozen at 1 if asked."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = cfg.bn_momentum
            if cfg.bn_frozen_weight and module.weight is not None:
                nn.init.ones_(module.weight)
                module.weight.requires_grad_(False)


def whiten_biases(model: nn.Module) -> list[nn.Parameter]:
    """The biases of the model's whitening layers (those that have one)."""
    return [m.bias for m in model.modules() if isinstance(m, Whiten) and m.bias is not None]


def train_whiten_biases(model: nn.Module, train: bool) -> None:
    """Let the whitening biases train, or freeze them where they are."""
    for bias in whiten_biases(model):
        bias.requires_grad_(train)
        if not train:
            bias.grad = None  # the optimiser skips a parameter without a gradient


class Lookahead:
    """Slow weights that trail the model's (Zhang et al., 2019, as airbench uses it): every
    LOOKAHEAD_EVERY steps they move towards the model's weights and the model is set to them.
    Their inertia grows with the cube of the run's progress, from none at the start to
    LOOKAHEAD_DECAY at the end, and the run ends on them. Batchnorm's statistics go along."""

    def __init__(self, model: nn.Module) -> None:
        self.tensors = [t for t in model.state_dict().values() if t.is_floating_point()]
        self.slow = [t.detach().clone() for t in self.tensors]

    @torch.no_grad()
    def pull(self, decay: float) -> None:
        """slow <- decay * slow + (1 - decay) * model; model <- slow."""
        torch._foreach_lerp_(self.slow, self.tensors, 1 - decay)
        torch._foreach_copy_(self.tensors, self.slow)

    def after_step(self, step: int, progress: float) -> None:
        """Pull when the step is due, and once more (all the way) when the run is done."""
        if progress >= 1:
            self.pull(1.0)
        elif step % LOOKAHEAD_EVERY == 0:
            self.pull(LOOKAHEAD_DECAY * progress ** 3)
