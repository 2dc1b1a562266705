"""Training hyperparameters: one dataclass, the single source of every default.

Presets (server/models/presets.py) override some of these fields; the CLI and the live
server override them again. `TrainConfig.replace(**changes)` validates every change.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

Optimizer = Literal["sgd", "adamw", "adadelta"]
Schedule = Literal["constant", "onecycle", "cosine", "linear"]
Precision = Literal["auto", "fp32", "bf16"]

OPTIMIZERS: tuple[str, ...] = ("sgd", "adamw", "adadelta")
SCHEDULES: tuple[str, ...] = ("constant", "onecycle", "cosine", "linear")
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 10.0  # passes over the training set
    batch_size: int = 128  # images per step
    optimizer: Optimizer = "sgd"
    lr: float = 0.05  # peak learning rate (per image-averaged loss)
    momentum: float = 0.9  # SGD momentum; Adadelta's rho; AdamW's beta1
    nesterov: bool = True  # SGD only
    weight_decay: float = 5e-4  # decoupled for AdamW, L2 for SGD / Adadelta
    schedule: Schedule = "onecycle"  # shape of the learning rate over the run
    warmup: float = 0.2  # fraction of the run spent warming up (onecycle / cosine / linear)
    label_smoothing: float = 0.0  # 0 = plain cross-entropy
    crop_pad: int = 4  # random crop after padding by this many pixels (0 = off)
    flip: bool = True  # random horizontal flips
    cutout: int = 0  # side of the random square zeroed per image (0 = off)
    flip_tta: bool = False  # average predictions over the image and its mirror at test time
    seed: int = 0  # seeds weights, batch order and augmentation
    precision: Precision = "auto"  # auto = bf16 autocast where the device has fast bf16
    channels_last: bool = True  # memory format for conv activations
    eval_every: float = 1.0  # epochs between test-set evaluations

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


def _check_type(name: str, value: Any, kind: type) -> str | None:
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return None if math.isfinite(value) else f"{name} must be a finite number, got {value!r}"
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return None
    if kind is bool and isinstance(value, bool):
        return None
    if kind is str and isinstance(value, str):
        return None
    return f"{name} must be {kind.__name__}, got {type(value).__name__} {value!r}"


_TYPES: dict[str, type] = {
    "epochs": float, "batch_size": int, "optimizer": str, "lr": float, "momentum": float,
    "nesterov": bool, "weight_decay": float, "schedule": str, "warmup": float,
    "label_smoothing": float, "crop_pad": int, "flip": bool, "cutout": int, "flip_tta": bool,
    "seed": int, "precision": str, "channels_last": bool, "eval_every": float,
}


def config_problems(cfg: TrainConfig) -> list[str]:
    """Every reason `cfg` is unusable, as messages a user can act on (empty when fine)."""
    problems = [p for name, kind in _TYPES.items()
                if (p := _check_type(name, getattr(cfg, name), kind))]
    if problems:
        return problems
    if cfg.epochs <= 0:
        problems.append(f"epochs must be > 0, got {cfg.epochs}")
    if not 1 <= cfg.batch_size <= 8192:
        problems.append(f"batch_size must be between 1 and 8192, got {cfg.batch_size}")
    if cfg.optimizer not in OPTIMIZERS:
        problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {cfg.optimizer!r}")
    if not 0 < cfg.lr <= 100:
        problems.append(f"lr must be > 0 and <= 100, got {cfg.lr}")
    if not 0 <= cfg.momentum < 1:
        problems.append(f"momentum must be in [0, 1), got {cfg.momentum}")
    if not 0 <= cfg.weight_decay <= 1:
        problems.append(f"weight_decay must be in [0, 1], got {cfg.weight_decay}")
    if cfg.schedule not in SCHEDULES:
        problems.append(f"schedule must be one of {', '.join(SCHEDULES)}, got {cfg.schedule!r}")
    if not 0 <= cfg.warmup < 1:
        problems.append(f"warmup must be a fraction in [0, 1), got {cfg.warmup}")
    if not 0 <= cfg.label_smoothing < 1:
        problems.append(f"label_smoothing must be in [0, 1), got {cfg.label_smoothing}")
    if not 0 <= cfg.crop_pad <= 16:
        problems.append(f"crop_pad must be between 0 and 16, got {cfg.crop_pad}")
    if not 0 <= cfg.cutout <= 32:
        problems.append(f"cutout must be between 0 and 32, got {cfg.cutout}")
    if cfg.precision not in PRECISIONS:
        problems.append(f"precision must be one of {', '.join(PRECISIONS)}, got {cfg.precision!r}")
    if cfg.eval_every <= 0:
        problems.append(f"eval_every must be > 0, got {cfg.eval_every}")
    return problems
