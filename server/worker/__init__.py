"""The training process: a supervised worker that trains, probes and answers commands."""

from ..messages import Reply, TestSet
from .process import Worker, WorkerUnavailable
from .session import WorkerOptions

__all__ = ["Reply", "TestSet", "Worker", "WorkerOptions", "WorkerUnavailable"]
