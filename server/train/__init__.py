"""Training: hyperparameters, the step-by-step loop, evaluation and checkpoints."""

from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, restore, save_checkpoint
from .config import TrainConfig
from .device import DeviceError, resolve_device
from .loop import Command, EvalMetrics, StepMetrics, Trainer

__all__ = [
    "Checkpoint", "CheckpointError", "Command", "DeviceError", "EvalMetrics", "StepMetrics",
    "TrainConfig", "Trainer", "load_checkpoint", "resolve_device", "restore", "save_checkpoint",
]
