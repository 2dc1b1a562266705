"""The server's copy of the run: what the worker last said, kept for new clients and REST.

The worker is the source of truth; the mirror only applies its messages in order: the latest
state, the layer table, the metric history (downsampled, so a long run stays small), the test
images and the newest probe frame; for classifying uploads also the training images, the live
weights, the training images' feature index and the last evaluation's verdict on each test image.
"""

from __future__ import annotations

from typing import Any

from .protocol import (Eval, EvalPoint, Hello, History, LayerRow, MetricPoint, Metrics, ModelChanged,
                       PresetInfo, RunState, State)

from .messages import TestPredictions, TestSet, TrainFeatures, TrainSet, Weights

HISTORY_POINTS = 2000  # training points kept (and sent in hello), at most


class Downsampled:
    """Every point until `limit`, then every 2nd, 4th, ...: the whole run in at most `limit` points."""

    def __init__(self, limit: int = HISTORY_POINTS) -> None:
        self.limit = limit
        self.points: list[MetricPoint] = []
        self.stride = 1
        self.seen = 0

    def add(self, point: MetricPoint) -> None:
        if self.seen % self.stride == 0:
            self.points.append(point)
            if len(self.points) > self.limit:
                self.points = self.points[::2]
                self.stride *= 2
        self.seen += 1


class RunMirror:
    def __init__(self, run: RunState, presets: list[PresetInfo]) -> None:
        self.run = run
        self.presets = presets
        self.layers: list[LayerRow] = []
        self.spec: list[dict] = []  # the live network's normalised spec
        self.train = Downsampled()
        self.test: list[EvalPoint] = []
        self.test_set: TestSet | None = None
        self.frame: bytes | None = None  # the newest probe frame
        self.train_set: TrainSet | None = None
        self.weights: Weights | None = None  # the live weights, about a second old at most
        self.features: TrainFeatures | None = None  # the feature index of the current model
        self.test_predictions: TestPredictions | None = None  # from the last evaluation
        self.last_confusion: list[list[int]] | None = None  # of the last evaluation

    @property
    def classes(self) -> list[str]:
        return self.test_set.classes if self.test_set else []

    def apply(self, message: Any) -> None:
        if isinstance(message, State):
            self.run = message.run
        elif isinstance(message, Metrics):
            for point in message.points:
                self.train.add(point)
            last = message.points[-1]
            self.run = self.run.model_copy(update={
                "step": last.step, "epoch": last.epoch, "seconds": last.seconds,
                "images_seen": self.run.images_seen + sum(p.batch_size for p in message.points)})
        elif isinstance(message, Eval):
            self.test.append(EvalPoint(**message.model_dump(include=set(EvalPoint.model_fields) - {"confusion"})))
            self.last_confusion = message.confusion
        elif isinstance(message, ModelChanged):
            self.layers, self.train, self.test, self.frame = message.layers, Downsampled(), [], None
            self.spec = message.spec
            self.features = self.test_predictions = self.last_confusion = None
        elif isinstance(message, TestSet):
            self.test_set = message
        elif isinstance(message, bytes):
            self.frame = message
        elif isinstance(message, Weights):
            self.weights = message
        elif isinstance(message, TrainFeatures):
            self.features = message
        elif isinstance(message, TrainSet):
            self.train_set = message
        elif isinstance(message, TestPredictions):
            self.test_predictions = message

    def restore(self, train: list[dict], test: list[dict], upto: int | None = None) -> None:
        """The charts of a run resumed from the run store (up to its checkpoint's step, if given)."""
        self.train = Downsampled()
        for point in train:
            if upto is None or point["step"] <= upto:
                self.train.add(MetricPoint(**point))
        self.test = [EvalPoint(**point) for point in test if upto is None or point["step"] <= upto]

    def hello(self) -> Hello:
        test = self.test
        if test and self.last_confusion is not None:  # the newest point carries its matrix
            test = [*test[:-1], test[-1].model_copy(update={"confusion": self.last_confusion})]
        return Hello(run=self.run, layers=self.layers, history=History(train=self.train.points, test=test),
                     classes=self.classes, presets=self.presets, probe=self.run.probe)
