"""What the server needs from the worker to classify uploads: the live weights and a feature index.

    feed = ClassifierFeed(outbox)
    feed.tick(trainer, name, now, watched=True, training=True)     # between steps

- Weights: a CPU copy of the state_dict, sent when they changed and at most every WEIGHTS_EVERY
  seconds (newest only: dropped when the event queue is full, a newer copy follows). The server
  classifies with them in its own process, so an upload never waits for a training step.
- The feature index: every training image's features (server/inference/retrieval.py) under one
  snapshot of the weights, computed slice by slice between steps and sent whole when done, then
  started again from newer weights. While training, the slices are spaced so that the index
  costs at most INDEX_SHARE of the worker's time (WATCHED_SHARE while people only watch, so that
  an index is ready when someone uploads); paused or finished, it builds at full speed. It is
  kept up only while someone watches the page or has classified within INTEREST seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from ..inference.retrieval import embed
from ..models import build_model
from ..messages import TrainFeatures, Weights

WEIGHTS_EVERY = 1.0  # seconds between weight copies, at least
WEIGHTS_SHARE = 0.01  # weight copies take at most this fraction of the time
INDEX_SHARE = 0.05  # while training, the feature index takes at most this fraction of the time
WATCHED_SHARE = 0.02  # ... while someone watches but nobody has classified lately
INTEREST = 300.0  # seconds the index is kept up after a classification, with nobody watching
SLICE_SECONDS = 0.02  # aim of one slice of the index while training (steps wait for it)
IDLE_SLICE_SECONDS = 0.1  # ... and while paused (commands wait for it)


def snapshot(trainer: Any, name: str) -> Weights:
    state = {k: v.detach().to("cpu", copy=True) for k, v in trainer.model.state_dict().items()}
    return Weights(name=name, spec=trainer.spec, classes=list(trainer.classes), step=trainer.step_count,
                   state=state, input_format=trainer.input_format, time=time.time(),
                   flip_tta=trainer.config.flip_tta and trainer.batches.flips, tta_shift=trainer.config.tta_shift)


@dataclass
class IndexBuild:
    key: tuple[int, int]  # (trainer, step) of the snapshot
    weights: Weights
    model: torch.nn.Module  # the snapshot, in eval mode on the training device
    parts: list[torch.Tensor] = field(default_factory=list)
    done: int = 0  # training images embedded so far
    batch: int = 256  # images in the next slice (adapted to SLICE_SECONDS)


class ClassifierFeed:
    def __init__(self, outbox: Any) -> None:
        self.outbox = outbox
        self.restart()
        self.wanted_until = 0.0  # monotonic time until which the index is kept up anyway

    def restart(self) -> None:
        """A new trainer: forget what was sent and drop a build in progress."""
        self.sent: tuple[int, int] | None = None  # (trainer, step) of the weights last sent
        self.indexed: tuple[int, int] | None = None  # ... of the last finished index
        self.build: IndexBuild | None = None
        self.next_weights = self.next_slice = 0.0

    def want(self, now: float) -> None:
        """Someone classified: keep the index up for INTEREST seconds."""
        self.wanted_until = now + INTEREST

    def tick(self, trainer: Any, name: str, now: float, watched: bool, training: bool) -> None:
        key = (id(trainer), trainer.step_count)
        if key != self.sent and now >= self.next_weights:
            start = time.perf_counter()
            self.outbox.frame(snapshot(trainer, name))
            self.sent = key
            self.next_weights = now + max(WEIGHTS_EVERY, (time.perf_counter() - start) / WEIGHTS_SHARE)
        if (watched or now < self.wanted_until) and now >= self.next_slice:
            if self.build is None and key != self.indexed:
                self.build = self._start(trainer, name, key)
            if self.build is not None:
                share = INDEX_SHARE if now < self.wanted_until else WATCHED_SHARE
                self._slice(trainer, share if training else None)

    def _start(self, trainer: Any, name: str, key: tuple[int, int]) -> IndexBuild:
        weights = snapshot(trainer, name)
        model = build_model(weights.spec, num_classes=len(weights.classes))
        model.load_state_dict(weights.state)
        model = model.to(trainer.device).eval().requires_grad_(False)
        return IndexBuild(key, weights, model)

    def _slice(self, trainer: Any, share: float | None) -> None:
        """Embed the next slice of training images; `share`: of the time it may take (None: all)."""
        build, images = self.build, trainer.train_images
        start = time.perf_counter()
        batch = images[build.done:build.done + build.batch]
        build.parts.append(embed(build.model, batch).to(torch.float16).cpu())
        build.done += len(batch)
        took = time.perf_counter() - start
        aim = SLICE_SECONDS if share else IDLE_SLICE_SECONDS
        build.batch = int(min(8192, max(32, build.batch * aim / max(took, 1e-4))))
        self.next_slice = time.monotonic() + (took / share if share else 0.0)
        if build.done >= len(images):
            features = torch.cat(build.parts).numpy()
            self.outbox.send(TrainFeatures(weights=build.weights, features=features,
                                           seconds=time.time() - build.weights.time))
            self.indexed, self.build = build.key, None
