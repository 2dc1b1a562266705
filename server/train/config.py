"""Training hyperparameters: one dataclass, the single source of every default.

Presets (server/models/presets.py) override some of these fields; the CLI and the live
server override them again. `TrainConfig.replace(**changes)` validates every change.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

Optimizer = Literal["sgd", "adamw", "adadelta"]
Schedule = Literal["constant", "onecycle", "cosine", "linear"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]
Init = Literal["default", "xavier", "dirac"]


@dataclass(frozen=True)
class TrainConfig:
    """Every hyperparameter: its type, what it means (the Annotated text) and its default."""
    epochs: Annotated[float, "length of the run, in passes over the training set"] = 10.0
    batch_size: Annotated[int, "images per step"] = 128
    optimizer: Annotated[Optimizer, "the update rule"] = "sgd"
    lr: Annotated[float, "peak learning rate (per image-averaged loss)"] = 0.05
    momentum: Annotated[float, "SGD momentum, Adadelta's rho, AdamW's beta1"] = 0.9
    nesterov: Annotated[bool, "Nesterov momentum (SGD only)"] = True
    weight_decay: Annotated[float, "decoupled for AdamW, L2 for SGD and Adadelta (see decoupled_wd)"] = 5e-4
    decoupled_wd: Annotated[bool, "SGD: shrink the weights by lr x weight_decay each step, outside the "
                            "momentum, instead of adding an L2 gradient (Loshchilov & Hutter)"] = False
    schedule: Annotated[Schedule, "shape of the learning rate over the run"] = "onecycle"
    warmup: Annotated[float, "fraction of the run spent warming up (onecycle, cosine, linear)"] = 0.2
    label_smoothing: Annotated[float, "0 is plain cross-entropy"] = 0.0
    crop_pad: Annotated[int, "random crop after padding by this many pixels (0: off)"] = 4
    flip: Annotated[bool, "random horizontal flips (never for data whose mirror images change class)"] = True
    alternate_flip: Annotated[bool, "flip a random half of the images in odd epochs and the other half in "
                              "even ones, instead of at random each time (airbench)"] = False
    cutout: Annotated[int, "side of the random square zeroed per image (0: off)"] = 0
    flip_tta: Annotated[bool, "average predictions over the image and its mirror at test time"] = False
    tta_shift: Annotated[int, "multi-crop test-time augmentation: also average over the image shifted by "
                         "this many pixels up-left and down-right (0: off)"] = 0
    normalize: Annotated[bool, "scale each channel to zero mean and unit variance (the training images' "
                         "statistics); off: pixels / 255"] = True
    init: Annotated[Init, "weights of conv and fc layers: PyTorch's default, Xavier-uniform (d2l's LeNet), "
                    "or dirac: each 3x3 conv starts as the identity on its first input channels"] = "default"
    bn_momentum: Annotated[float, "weight of each batch in batchnorm's running statistics (PyTorch's "
                           "momentum)"] = 0.1
    bn_frozen_weight: Annotated[bool, "keep batchnorm's scales at 1; only its biases train"] = False
    bias_lr: Annotated[float, "multiplier on the learning rate of the batchnorm and whitening biases "
                       "(their weight decay is divided by it)"] = 1.0
    whiten_bias_epochs: Annotated[float, "epochs the whitening layer's bias trains before it is frozen"] = 0.0
    lookahead: Annotated[bool, "every 5 steps pull the weights towards a slow average of them, whose pull "
                         "grows over the run; the run ends on the average (Zhang et al.; airbench)"] = False
    seed: Annotated[int, "seeds weights, batch order and augmentation"] = 0
    precision: Annotated[Precision, "auto: bf16 autocast where the device runs it natively, else fp16 "
                         "autocast with a gradient scaler on a GPU, else fp32"] = "auto"
    channels_last: Annotated[bool, "memory format for conv activations"] = True
    eval_every: Annotated[float, "epochs between test-set evaluations"] = 1.0

    def __post_init__(self) -> None:
        problems = config_problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    def replace(self, **changes: Any) -> "TrainConfig":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown hyperparameter(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# The hyperparameters the live page may change while a run trains (PATCH /api/run/hyperparams).
LIVE = ("lr", "momentum", "weight_decay", "batch_size", "optimizer", "epochs", "schedule", "eval_every")


@cache
def field_types() -> dict[str, tuple[Any, str]]:
    """Each field's type (float, int, bool or a Literal of its choices) and its description."""
    out = {}
    for name, hint in get_type_hints(TrainConfig, include_extras=True).items():
        kind, *text = get_args(hint) if get_origin(hint) is Annotated else (hint,)
        out[name] = (kind, text[0] if text else "")
    return out


def choices(name: str) -> tuple[str, ...]:
    """The values a Literal field takes, e.g. choices("optimizer")."""
    return get_args(field_types()[name][0])


def _check_type(name: str, value: Any, kind: Any) -> str | None:
    if get_origin(kind) is Literal:
        options = get_args(kind)
        return None if value in options else f"{name} must be one of {', '.join(options)}, got {value!r}"
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return None if math.isfinite(value) else f"{name} must be a finite number, got {value!r}"
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return None
    if kind is bool and isinstance(value, bool):
        return None
    return f"{name} must be {kind.__name__}, got {type(value).__name__} {value!r}"


def config_problems(cfg: TrainConfig) -> list[str]:
    """Every reason `cfg` is unusable, as messages a user can act on (empty when fine)."""
    problems = [p for name, (kind, _) in field_types().items()
                if (p := _check_type(name, getattr(cfg, name), kind))]
    if problems:
        return problems
    if cfg.epochs <= 0:
        problems.append(f"epochs must be > 0, got {cfg.epochs}")
    if not 1 <= cfg.batch_size <= 8192:
        problems.append(f"batch_size must be between 1 and 8192, got {cfg.batch_size}")
    if not 0 < cfg.lr <= 100:
        problems.append(f"lr must be > 0 and <= 100, got {cfg.lr}")
    if not 0 <= cfg.momentum < 1:
        problems.append(f"momentum must be in [0, 1), got {cfg.momentum}")
    if not 0 <= cfg.weight_decay <= 1:
        problems.append(f"weight_decay must be in [0, 1], got {cfg.weight_decay}")
    if not 0 <= cfg.warmup < 1:
        problems.append(f"warmup must be a fraction in [0, 1), got {cfg.warmup}")
    if not 0 <= cfg.label_smoothing < 1:
        problems.append(f"label_smoothing must be in [0, 1), got {cfg.label_smoothing}")
    if not 0 <= cfg.crop_pad <= 16:
        problems.append(f"crop_pad must be between 0 and 16, got {cfg.crop_pad}")
    if not 0 <= cfg.cutout <= 32:
        problems.append(f"cutout must be between 0 and 32, got {cfg.cutout}")
    if not 0 <= cfg.tta_shift <= 4:
        problems.append(f"tta_shift must be between 0 and 4, got {cfg.tta_shift}")
    if not 0 < cfg.bn_momentum <= 1:
        problems.append(f"bn_momentum must be in (0, 1], got {cfg.bn_momentum}")
    if not 0 < cfg.bias_lr <= 1000:
        problems.append(f"bias_lr must be > 0 and <= 1000, got {cfg.bias_lr}")
    if cfg.whiten_bias_epochs < 0:
        problems.append(f"whiten_bias_epochs must be >= 0, got {cfg.whiten_bias_epochs}")
    if cfg.eval_every <= 0:
        problems.append(f"eval_every must be > 0, got {cfg.eval_every}")
    return problems
