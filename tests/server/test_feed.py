"""The worker's ClassifierFeed: weights at most once a second, the feature index only when wanted."""

from __future__ import annotations

import numpy as np
import torch

from convscope.inference import embed
from convscope.inference.live import as_model
from convscope.models import get_preset
from convscope.train import TrainConfig, Trainer
from convscope.worker.feed import ClassifierFeed
from convscope.messages import TrainFeatures, Weights


class Outbox:
    def __init__(self) -> None:
        self.sent: list = []

    def send(self, message) -> None:
        self.sent.append(message)

    def frame(self, message) -> bool:
        self.sent.append(message)
        return True


def trainer(tiny_dataset) -> Trainer:
    return Trainer(get_preset("convnetjs").spec, tiny_dataset, TrainConfig(batch_size=32, precision="fp32"),
                   device="cpu")


def test_weights_go_out_when_they_change_at_most_once_a_second(tiny_dataset):
    t, out = trainer(tiny_dataset), Outbox()
    feed = ClassifierFeed(out)
    feed.tick(t, "convnetjs", 0.0, watched=False, training=True)
    feed.tick(t, "convnetjs", 5.0, watched=False, training=True)  # unchanged: nothing new
    t.step()
    feed.tick(t, "convnetjs", 5.5, watched=False, training=True)  # changed, but too soon
    feed.tick(t, "convnetjs", 6.1, watched=False, training=True)
    weights = [m for m in out.sent if isinstance(m, Weights)]
    assert [w.step for w in weights] == [0, 1]
    assert not any(isinstance(m, TrainFeatures) for m in out.sent)  # nobody watches or classified
    model = as_model(weights[-1])
    for name, value in t.model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value)


def test_the_feature_index_is_built_in_slices_from_one_snapshot(tiny_dataset):
    t, out = trainer(tiny_dataset), Outbox()
    feed = ClassifierFeed(out)
    feed.want(0.0)
    ticks = 0
    while not any(isinstance(m, TrainFeatures) for m in out.sent):
        feed.next_slice = 0.0  # no waiting between slices in the test
        feed.tick(t, "convnetjs", 1.0, watched=False, training=True)
        t.step()  # the weights move on while the index is built
        ticks += 1
        assert ticks < 100
    index = next(m for m in out.sent if isinstance(m, TrainFeatures))
    assert index.weights.step == 0 and index.features.shape == (len(tiny_dataset.train_labels), 320)
    expected = embed(as_model(index.weights), t.train_images).numpy()
    np.testing.assert_allclose(index.features.astype(np.float32), expected, atol=2e-3)
    # the next build starts from the newer weights; a restart drops a build in progress
    feed.next_slice = 0.0
    feed.tick(t, "convnetjs", 2.0, watched=False, training=True)
    newer = feed.build.weights if feed.build else [m for m in out.sent if isinstance(m, TrainFeatures)][-1].weights
    assert newer.step == t.step_count > 0
    feed.restart()
    assert feed.build is None


def test_interest_runs_out(tiny_dataset):
    t, out = trainer(tiny_dataset), Outbox()
    feed = ClassifierFeed(out)
    feed.want(0.0)
    feed.tick(t, "convnetjs", 1000.0, watched=False, training=True)  # 1000 s later: no longer wanted
    # the tiny set's 256 images are one slice (256 a slice at first): a build would have finished
    assert feed.build is None and not any(isinstance(m, TrainFeatures) for m in out.sent)
    feed.tick(t, "convnetjs", 1000.0, watched=True, training=True)  # someone watches
    assert feed.build is None and sum(isinstance(m, TrainFeatures) for m in out.sent) == 1
