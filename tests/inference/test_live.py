"""LiveClassifier without a server: an answer carries the parts asked for and only those, the same as
in the whole answer; an upload that left parts out is kept (KeptUploads) and gives each of them once."""

from __future__ import annotations

import asyncio
import base64
import time
from types import SimpleNamespace

import pytest
import torch
from upload_images import encode, picture

from convscope.inference.image import decode_image
from convscope.inference.live import EVERY, PARTS, KeptUploads, LiveClassifier, NotKept
from convscope.messages import Weights
from convscope.models import build_model, get_preset
from convscope.protocol import decode_probe
from convscope.train.inputs import CIFAR10


@pytest.fixture(scope="module")
def weights() -> Weights:
    torch.manual_seed(0)
    network = build_model(get_preset("convnetjs").spec)
    return Weights(name="convnetjs", spec=network.spec, classes=[f"c{i}" for i in range(10)], step=7,
                   state=network.state_dict(), input_format=CIFAR10, time=time.time())


@pytest.fixture
def classifier(weights: Weights) -> LiveClassifier:
    mirror = SimpleNamespace(run=SimpleNamespace(status="training", source="trainer"), weights=weights, spec=weights.spec,
                             features=None, train_set=None)  # no feature index yet
    return LiveClassifier(mirror)


def asked(*parts: str) -> frozenset[str]:
    return frozenset(parts) | {"prediction"}


DATA = encode(picture(64, 48), "PNG")


@pytest.mark.parametrize("parts", [asked(), asked("gradcam"), asked("gradient", "neighbours"), asked("frame"),
                                   asked("gradcam", "gradient", "neighbours")])
def test_an_answer_has_the_parts_asked_and_they_are_the_whole_answers(classifier, weights, parts):
    whole = classifier.run(DATA, weights)
    assert whole.parts == list(PARTS) and whole.id is None  # nothing left out: nothing kept
    answer = classifier.run(DATA, weights, parts=parts)
    assert answer.parts == [p for p in PARTS if p in parts]
    for key in ("top", "probabilities", "explained", "input", "image", "step"):
        assert getattr(answer, key) == getattr(whole, key), key
    for key in ("gradcam", "gradient", "frame", "neighbours"):
        assert getattr(answer, key) == (getattr(whole, key) if key in parts else None), key
    assert isinstance(answer.id, str) and len(classifier.kept) == 1


def test_the_rest_of_a_kept_upload_comes_once_each(classifier, weights):
    first = classifier.run(DATA, weights, parts=asked("gradcam"))
    whole = classifier.run(DATA, weights)

    async def main():
        frame = await classifier.classify_kept(first.id, parts=asked("frame"))
        assert frame.parts == ["prediction", "frame"] and frame.id == first.id  # gradient, neighbours left
        assert frame.frame == whole.frame and frame.probabilities == whole.probabilities
        header, _ = decode_probe(base64.b64decode(frame.frame))
        assert header.image.source == "upload" and header.step == 7
        with pytest.raises(NotKept, match="frame of this upload was sent already") as again:
            await classifier.classify_kept(first.id, parts=asked("frame", "gradient"))
        assert again.value.status == 409
        with pytest.raises(NotKept, match="at least one part not sent yet"):
            await classifier.classify_kept(first.id, parts=asked())  # the prediction alone: not for free
        rest = await classifier.classify_kept(first.id)  # every part not sent yet
        assert rest.parts == ["prediction", "gradient", "neighbours"] and rest.id is None
        assert rest.gradient == whole.gradient and rest.gradcam is None and rest.frame is None
        with pytest.raises(NotKept, match="is kept") as gone:
            await classifier.classify_kept(first.id, parts=asked("gradcam"))
        assert gone.value.status == 404

    asyncio.run(main())
    assert len(classifier.kept) == 0  # every part sent: forgotten


def test_a_claim_that_came_to_nothing_may_be_asked_again(classifier, weights):
    first = classifier.run(DATA, weights, parts=asked())
    classifier.mirror = SimpleNamespace(run=SimpleNamespace(status="loading", source="trainer"), weights=None, spec=weights.spec)

    async def main():
        with pytest.raises(Exception, match="still loading the data"):
            await classifier.classify_kept(first.id, parts=asked("frame"))

    asyncio.run(main())
    kept, parts, left = classifier.kept.claim(first.id, asked("frame"))  # not marked sent
    assert parts == asked("frame") and left == first.id


def test_kept_uploads_are_bounded_in_number_and_time():
    now = [0.0]
    kept = KeptUploads(size=3, seconds=10.0, clock=lambda: now[0])
    decoded = decode_image(DATA, CIFAR10)
    assert kept.keep(decoded, CIFAR10, EVERY) is None  # nothing left out
    ids = [kept.keep(decoded, CIFAR10, asked()) for _ in range(4)]
    assert len(set(ids)) == 4 and len(kept) == 3  # the oldest went
    with pytest.raises(NotKept) as gone:
        kept.claim(ids[0], None)
    assert gone.value.status == 404
    now[0] = 5.0
    late = kept.keep(decoded, CIFAR10, asked())
    now[0] = 10.5  # the first three expired, the late one not
    assert kept.claim(late, asked("gradcam"))[2] == late
    assert len(kept) == 1
    with pytest.raises(NotKept):
        kept.claim(ids[3], None)
