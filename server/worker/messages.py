"""What travels between the server and its worker process besides protocol messages.

Commands go in with an id; each is answered by one Reply with the same id. TestSet goes out
once, after the data is loaded, so the server can serve the test images without loading the
data itself. Everything here is pickled by multiprocessing queues.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..protocol import RunState

CommandKind = Literal["pause", "resume", "step", "reset", "hyperparams", "model", "probe",
                      "checkpoint", "viewers", "stop"]


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
class TestSet:
    images: np.ndarray  # (M, 32, 32, 3) uint8
    labels: np.ndarray  # (M,) int64
    classes: list[str]
