"""Checkpoints: one file with weights, spec, hyperparameters, optimiser state and metric history.

Files are written atomically (temporary file, then rename) and read with torch's weights-only
loader, so a checkpoint from elsewhere cannot run code. Every check failure is a
CheckpointError whose message says what is wrong with which file.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..models import SpecError, build_model, validate
from .config import TrainConfig
from .inputs import InputFormat
from .recipe import Lookahead

FORMAT = "convscope-checkpoint"
VERSION = 1
REQUIRED = ("format", "version", "spec", "classes", "config", "model", "optimizer", "batches",
            "history", "step", "images_seen", "train_seconds")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used, and why."""


@dataclass
class Checkpoint:
    spec: list[dict]
    classes: list[str]
    config: TrainConfig
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any]
    batches_state: dict[str, Any]  # the training batch stream: generator, order, position
    history: dict[str, list[dict]]
    step: int
    images_seen: int
    train_seconds: float
    input_format: InputFormat  # how its images were scaled: an upload must be scaled the same way

    def build_model(self) -> torch.nn.Module:
        """The network with the checkpoint's weights, in eval mode, on the CPU."""
        model = build_model(self.spec, num_classes=len(self.classes))
        model.load_state_dict(self.model_state)
        return model.eval()


def save_checkpoint(trainer: Any, path: str | os.PathLike) -> Path:
    """Write the trainer's whole state to `path` atomically; returns the path."""
    path = Path(path)
    payload = {
        "format": FORMAT, "version": VERSION, "spec": trainer.spec, "classes": trainer.classes,
        "config": trainer.config.to_dict(),
        "model": {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()},
        "optimizer": trainer.optimizer.state_dict(), "batches": trainer.batches.state_dict(),
        "history": trainer.history,
        "step": trainer.step_count, "images_seen": trainer.images_seen,
        "train_seconds": trainer.train_seconds, "input": trainer.input_format.to_dict(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and check a checkpoint; the weights are verified against the spec's network."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a damaged or foreign file
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(e).__name__}: "
                              f"{first_line(e)[:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a convscope checkpoint (no '{FORMAT}' marker)")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {payload.get('version')!r}; "
                              f"this convscope reads version {VERSION}")
    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        raise CheckpointError(f"{path} is incomplete: missing {', '.join(missing)}")
    classes = payload["classes"]
    try:
        spec = validate(payload["spec"], num_classes=len(classes))
        config = TrainConfig(**payload["config"])
        InputFormat.from_dict(payload.get("input"))
    except (SpecError, ValueError, TypeError, KeyError) as e:
        raise CheckpointError(f"{path} holds an invalid network or settings: {e}") from None
    checkpoint = Checkpoint(spec=spec, classes=list(classes), config=config,
                            model_state=payload["model"], optimizer_state=payload["optimizer"],
                            batches_state=payload["batches"],
                            history=payload["history"], step=int(payload["step"]),
                            images_seen=int(payload["images_seen"]),
                            train_seconds=float(payload["train_seconds"]),
                            input_format=InputFormat.from_dict(payload.get("input")))
    try:
        checkpoint.build_model()
    except RuntimeError as e:
        raise CheckpointError(f"{path}: the weights do not fit its network: {first_line(e)[:300]}") from None
    return checkpoint


def first_line(error: Exception) -> str:
    return next(iter(str(error).splitlines()), "")


def restore(trainer: Any, checkpoint: Checkpoint) -> None:
    """Put a checkpoint's weights, optimiser state, counters and history into a Trainer."""
    trainer.model.load_state_dict(checkpoint.model_state)
    if trainer.lookahead:  # its slow weights start again from the restored ones
        trainer.lookahead = Lookahead(trainer.model)
    trainer.optimizer.load_state_dict(checkpoint.optimizer_state)
    trainer.batches.load_state_dict(checkpoint.batches_state)
    trainer.step_count = checkpoint.step
    trainer.images_seen = checkpoint.images_seen
    trainer.train_seconds = checkpoint.train_seconds
    trainer.history = checkpoint.history
