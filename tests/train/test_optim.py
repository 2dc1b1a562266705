import math

import pytest
import torch
from torch import nn

from convscope.train import TrainConfig
from convscope.train.optim import apply_hyperparams, lr_factor, make_optimizer


@pytest.mark.parametrize("schedule, progress, expected", [
    ("constant", 0.0, 0.0),   # warm-up 0.2 starts at 0
    ("constant", 0.1, 0.5),   # half-way through the warm-up
    ("constant", 0.9, 1.0),
    ("linear", 0.2, 1.0),     # peak at the end of the warm-up
    ("linear", 0.6, 0.5),     # (0.6 - 0.2) / 0.8 = 0.5 of the decay done
    ("linear", 1.0, 0.0),
    ("cosine", 0.6, 0.5),     # (1 + cos(pi/2)) / 2
    ("cosine", 0.4, (1 + math.cos(math.pi * 0.25)) / 2),
    ("onecycle", 0.0, 1 / 25),
    ("onecycle", 0.2, 1.0),
    ("onecycle", 1.0, 1e-4),
])
def test_schedule_shapes_by_hand(schedule, progress, expected):
    cfg = TrainConfig(schedule=schedule, warmup=0.2)
    assert lr_factor(progress, cfg) == pytest.approx(expected, abs=1e-9)


def test_no_warmup_starts_at_peak():
    assert lr_factor(0.0, TrainConfig(schedule="linear", warmup=0.0)) == 1.0


@pytest.mark.parametrize("name, kind", [("sgd", torch.optim.SGD), ("adamw", torch.optim.AdamW),
                                        ("adadelta", torch.optim.Adadelta)])
def test_optimizers_and_live_hyperparameters(name, kind):
    model = nn.Linear(4, 2)
    cfg = TrainConfig(optimizer=name, momentum=0.8, weight_decay=1e-3)
    opt = make_optimizer(model, cfg)
    assert isinstance(opt, kind)
    apply_hyperparams(opt, cfg.replace(momentum=0.5, weight_decay=0.0), lr=0.25)
    group = opt.param_groups[0]
    assert group["lr"] == 0.25 and group["weight_decay"] == 0.0
    momentum = {"sgd": group.get("momentum"), "adamw": group.get("betas", (None,))[0],
                "adadelta": group.get("rho")}[name]
    assert momentum == 0.5


def test_frozen_parameters_are_not_optimised():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    model[0].weight.requires_grad_(False)
    opt = make_optimizer(model, TrainConfig())
    ids = {id(p) for g in opt.param_groups for p in g["params"]}
    assert id(model[0].weight) not in ids and id(model[1].weight) in ids
