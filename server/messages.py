"""What travels between the server and its worker process besides protocol messages.

Commands go in with an id; each is answered by one Reply with the same id. TestSet and TrainSet
go out once, after the data is loaded, so the server can serve the images without loading the
data itself. For classifying uploads the server also gets the live weights (Weights, about once
a second), the training images' features (TrainFeatures, rebuilt in the background) and what
each test image was classified as at the last evaluation (TestPredictions), and whenever a
checkpoint is written, Saved. Everything here is
pickled by multiprocessing queues.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from .protocol import RunState
from .train.inputs import InputFormat

CommandKind = Literal["pause", "resume", "step", "reset", "hyperparams", "model", "open", "probe",
                      "checkpoint", "viewers", "classifying", "stop"]


@dataclass(frozen=True)
class Command:
    id: int
    kind: CommandKind
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    id: int
    ok: bool  # whether the command took effect
    message: str
    run: RunState


@dataclass(frozen=True)
class Saved:
    """The run's checkpoint was written: the run can be resumed from this step."""
    run_id: str
    step: int


@dataclass(frozen=True)
class TestSet:
    images: np.ndarray  # (M, H, W, C) uint8
    labels: np.ndarray  # (M,) int64
    classes: list[str]


@dataclass(frozen=True)
class TrainSet:
    images: np.ndarray  # (N, H, W, C) uint8
    labels: np.ndarray  # (N,) int64


@dataclass(frozen=True)
class Weights:
    """The live network: enough to build it in the server and classify with it."""
    name: str
    spec: list[dict]
    classes: list[str]
    step: int
    state: dict[str, torch.Tensor]  # state_dict, CPU copies
    input_format: InputFormat  # how the network's images are shaped and scaled
    time: float  # unix time they were taken
    flip_tta: bool = False  # classify as the test set is evaluated: with the mirror image too,
    tta_shift: int = 0  # ... and with copies shifted this many pixels (server/train/tta.py)


@dataclass(frozen=True)
class TrainFeatures:
    """The training images' features (server/inference/retrieval.py) and the weights they came from."""
    weights: Weights
    features: np.ndarray  # (N, D) float16, unit rows, in training-set order
    seconds: float  # wall-clock time the build took, from the weights' time


@dataclass(frozen=True)
class TestPredictions:
    step: int  # of the evaluation
    predicted: np.ndarray  # (M,) int16: the class each test image was given
