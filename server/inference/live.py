"""Classification in the live server, with the weights the worker mirrors to it.

    classifier = LiveClassifier(mirror)
    result = await classifier.classify(data)     # a ClassifyResult; raises ImageError or NotReady
    result = await classifier.classify(data, parts=frozenset({"prediction", "gradcam"}))  # result.id: the rest
    rest = await classifier.classify_kept(result.id)   # the parts it left out; raises NotKept too
    found = await classifier.slide(data)         # a SlideResult (slide.py); also NotRecastable, TooCostly

The worker sends its weights about once a second and, in the background, a feature index of the
training images (server/worker/feed.py); the mirror keeps the newest of each. A request builds
(or refreshes) its copy of the network from them and runs in a thread, so it never waits for a
training step and never touches the training process: no batchnorm statistics, no optimiser, no
gradients of the run's weights. One request (a classification or a slide) runs at a time, on one
CPU thread (the cores are the trainer's; torch threads fighting it make a request hundreds of
times slower), and at most MAX_WAITING wait for their turn.

An answer carries the parts asked for (PARTS: the prediction always; Grad-CAM, the input gradient,
every layer's maps and the nearest training images only when asked), and only those are computed.
An upload whose answer left parts out is kept decoded (KeptUploads) so that a page can fetch the
rest when their view comes on screen, without sending or decoding the image again; each part of an
upload is computed once at most, so an upload costs at most one whole answer however it is fetched.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from ..models import build_model
from ..models.recast import Sliding, recast
from ..protocol import (ClassifyResult, Guess, Neighbour, Neighbours, ProbeSource, SaliencyMap, SlideBox,
                        SlideCosts, SlideLayer, SlideMap, SlidePhoto, SlideResult, UploadCrop, UploadInfo)
from ..messages import TrainFeatures, Weights
from ..train.inputs import InputFormat
from ..probes import pack
from .explain import classify
from .image import Decoded, decode_image, png_bytes
from .photo import decode_photo
from .retrieval import FeatureIndex, embed
from .slide import Found, slide

WEIGHTS_WAIT = 5.0  # seconds a request waits for the current model's weights to arrive
MAX_WAITING = 4  # requests queued or running at once; more are answered 429
INTEREST_EVERY = 30.0  # seconds between reminders to the worker that someone classifies
PARTS = ("prediction", "gradcam", "gradient", "frame", "neighbours")  # an answer's parts, in its order
EVERY = frozenset(PARTS)  # the whole answer (the prediction is in every answer)
KEEP_SECONDS = 600.0  # an upload whose answer left parts out is kept this long for the rest
KEEP_MAX = 4096  # uploads kept at once (the oldest go first): a few kB each, decoded


class NotReady(Exception):
    """The server cannot classify now (data loading, no weights yet, too busy); says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class NotKept(Exception):
    """GET /api/classify/{id} cannot send the parts asked for (404: not kept, 409: sent already); says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Kept:
    decoded: Decoded  # as the network saw it
    fmt: InputFormat  # the network's input format it was decoded for
    sent: frozenset[str]  # its parts computed so far (given out: being computed counts)
    until: float  # time.monotonic() when it is forgotten


class KeptUploads:
    """Decoded uploads whose answer left parts out, by a random id, for the rest of their parts.

    Bounded: KEEP_MAX uploads for KEEP_SECONDS at most, and an upload is forgotten as soon as every
    part of it has been sent. Each part is given out once (claim): a follow-up is not rate limited
    as an upload is, and need not be, since an upload's answer and its follow-ups together compute
    each part at most once. Called from the event loop and from the classifying thread."""

    def __init__(self, size: int = KEEP_MAX, seconds: float = KEEP_SECONDS, clock=time.monotonic) -> None:
        self.size, self.seconds, self.clock = size, seconds, clock
        self.items: OrderedDict[str, Kept] = OrderedDict()  # oldest first
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.items)

    def keep(self, decoded: Decoded, fmt: InputFormat, sent: frozenset[str]) -> str | None:
        """Keep an upload whose answer had the parts `sent`: its id, or None when nothing is left out."""
        if sent >= EVERY:
            return None
        upload = secrets.token_urlsafe(16)
        with self.lock:
            now = self.clock()
            self._forget_expired(now)
            self.items[upload] = Kept(decoded, fmt, sent | {"prediction"}, now + self.seconds)
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return upload

    def claim(self, upload: str, parts: frozenset[str] | None) -> tuple[Kept, frozenset[str], str | None]:
        """The upload, the parts to compute now (`parts`, or None: every part not sent yet; the
        prediction always) and its id while parts are still left; marks them sent. Raises NotKept."""
        with self.lock:
            self._forget_expired(self.clock())
            kept = self.items.get(upload)
            if kept is None:
                raise NotKept(404, f"no upload {upload!r} is kept: uploads are kept {self.seconds / 60:.0f} minutes "
                                   "at most, until each part has been sent once; upload the image again")
            if parts is None:
                parts = EVERY - kept.sent
            again = [part for part in PARTS if part in parts and part in kept.sent and part != "prediction"]
            if again:
                raise NotKept(409, f"{', '.join(again)} of this upload {'was' if len(again) == 1 else 'were'} "
                                   "sent already (each part is sent once): upload the image again")
            if not parts - {"prediction"}:
                raise NotKept(409, "ask for at least one part not sent yet: "
                                   + ", ".join(p for p in PARTS if p not in kept.sent))
            kept.sent = kept.sent | parts
            left = upload
            if kept.sent >= EVERY:
                del self.items[upload]
                left = None
            return kept, parts | {"prediction"}, left

    def release(self, upload: str, kept: Kept, parts: frozenset[str]) -> None:
        """A claim that came to nothing (the server was busy, the weights had not arrived): its
        parts may be asked for again."""
        with self.lock:
            kept.sent = (kept.sent - parts) | {"prediction"}
            if upload not in self.items and kept.until > self.clock():
                self.items[upload] = kept

    def _forget_expired(self, now: float) -> None:
        while self.items:
            upload, kept = next(iter(self.items.items()))
            if kept.until > now:
                break
            del self.items[upload]


@contextmanager
def one_thread() -> Iterator[None]:
    """torch on one thread for the duration (the setting is process-wide: put back afterwards)."""
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def as_model(weights: Weights, model: torch.nn.Module | None = None) -> torch.nn.Module:
    """The network of `weights` on the CPU in eval mode; reuses `model` when it has the same spec."""
    if model is None or model.spec != weights.spec or model.num_classes != len(weights.classes):
        model = build_model(weights.spec, num_classes=len(weights.classes))
    model.load_state_dict(weights.state)
    return model.eval().requires_grad_(False)


def saliency(values: torch.Tensor, layer: int | None = None) -> SaliencyMap:
    """A (H, W) map in [0, 1] as base64 uint8."""
    data = (values.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return SaliencyMap(height=data.shape[0], width=data.shape[1], layer=layer,
                       data=base64.b64encode(data.tobytes()).decode())


def png_data_url(pixels: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode()


class LiveClassifier:
    def __init__(self, mirror: object) -> None:
        self.mirror = mirror  # a RunMirror
        self.lock = threading.Lock()
        self.waiting = 0
        self.model: tuple[Weights, torch.nn.Module] | None = None
        self.index: tuple[TrainFeatures, FeatureIndex] | None = None
        self.sliding: tuple[Weights, Sliding] | None = None
        self.kept = KeptUploads()
        self.reminded = -INTEREST_EVERY

    def remind(self) -> bool:
        """True at most every INTEREST_EVERY seconds: time to tell the worker someone classifies."""
        now = time.monotonic()
        if now - self.reminded < INTEREST_EVERY:
            return False
        self.reminded = now
        return True

    async def classify(self, data: bytes, top: int = 5, neighbours: int = 8,
                       parts: frozenset[str] = EVERY) -> ClassifyResult:
        """The answer with `parts` (the prediction always); its `id` fetches the rest (classify_kept)."""
        return await self.in_turn(self.run, data, top, neighbours, parts)

    async def classify_kept(self, upload: str, top: int = 5, neighbours: int = 8,
                            parts: frozenset[str] | None = None) -> ClassifyResult:
        """Parts of a kept upload that its answer left out (None: all of them), with the live weights
        of now. Raises NotKept (unknown or expired id, a part sent already) before waiting its turn."""
        kept, parts, left = self.kept.claim(upload, parts)
        try:
            return await self.in_turn(self.run_kept, kept, top, neighbours, parts, left)
        except BaseException:
            self.kept.release(upload, kept, parts)
            raise

    async def slide(self, data: bytes, side: int = 256, exact: bool = True, threshold: float = 0.5) -> SlideResult:
        return await self.in_turn(self.run_slide, data, side, exact, threshold)

    async def in_turn(self, work, data: bytes, *options):
        """work(data, weights, *options) in a thread with the current weights, when its turn comes."""
        if self.waiting >= MAX_WAITING:
            raise NotReady(429, f"{self.waiting} requests (classifications, slides) are already waiting; "
                                "try again in a moment")
        self.waiting += 1
        try:
            weights = await self.current_weights()
            return await asyncio.to_thread(work, data, weights, *options)
        finally:
            self.waiting -= 1

    async def current_weights(self) -> Weights:
        """The live weights of the current model; waits a moment for them after a model change."""
        deadline = time.monotonic() + WEIGHTS_WAIT
        while True:
            run, weights = self.mirror.run, self.mirror.weights
            if run.status == "loading":
                raise NotReady(409, "the worker is still loading the data; try again when it is ready")
            if run.source == "watch":
                raise NotReady(409, "this run is a model watched in its own script (convscope.watch): uploads are "
                                    "classified by the page that script serves, not through the broker")
            if weights is not None and weights.spec == self.mirror.spec:
                return weights
            if time.monotonic() > deadline:
                why = f": {run.message}" if run.status == "error" and run.message else ""
                raise NotReady(503, f"the live model's weights have not reached the server yet{why}; "
                                    "try again in a moment")
            await asyncio.sleep(0.05)

    def run(self, data: bytes, weights: Weights, top: int = 5, neighbours: int = 8,
            parts: frozenset[str] = EVERY) -> ClassifyResult:
        """Decode, then classify and compute the parts asked for, in this thread (one request at a time)."""
        with self.lock, one_thread():
            start = time.perf_counter()
            decoded = decode_image(data, weights.input_format)
            result = self.answer(decoded, weights, top, neighbours, parts, start)
        result.id = self.kept.keep(decoded, weights.input_format, parts)
        return result

    def run_kept(self, kept: Kept, weights: Weights, top: int, neighbours: int, parts: frozenset[str],
                 upload: str | None) -> ClassifyResult:
        """More parts of a kept upload (the prediction again with them), in this thread."""
        if weights.input_format != kept.fmt:
            raise NotKept(409, "the live network takes other images than when this was uploaded: upload it again")
        with self.lock, one_thread():
            result = self.answer(kept.decoded, weights, top, neighbours, parts, time.perf_counter())
        result.id = upload
        return result

    def answer(self, decoded: Decoded, weights: Weights, top: int, neighbours: int, parts: frozenset[str],
               start: float) -> ClassifyResult:
        """Classify and explain a decoded upload: the prediction and the `parts` asked, nothing else."""
        fmt = weights.input_format
        model = self.model_for(weights)
        frame = "frame" in parts
        result = classify(model, decoded.pixels, fmt, gradient="gradient" in parts, gradcam="gradcam" in parts,
                          layer_grads=frame, flip_tta=weights.flip_tta, tta_shift=weights.tta_shift)
        probe = None
        if frame:
            probe = pack(model, result.activations, result.activation_grads, decoded.pixels,
                         weights.step, ProbeSource(source="upload", index=0))
        near = self.neighbours(decoded.pixels, weights, neighbours) if "neighbours" in parts else None
        classes = weights.classes
        p = result.probabilities
        best = p.topk(min(top, len(classes)))
        crop = decoded.crop
        return ClassifyResult(
            model=weights.name, step=weights.step, age=round(max(0.0, time.time() - weights.time), 3),
            top=[Guess(class_=classes[c], p=q) for q, c in zip(best.values.tolist(), best.indices.tolist())],
            probabilities=p.tolist(), explained=classes[result.target],
            input=png_data_url(decoded.pixels),
            gradcam=saliency(result.gradcam, result.gradcam_layer) if result.gradcam is not None else None,
            gradient=saliency(result.gradient) if result.gradient is not None else None,
            frame=base64.b64encode(probe).decode() if probe is not None else None,
            neighbours=near,
            image=UploadInfo(format=decoded.format, mode=decoded.mode, notes=decoded.notes,
                             crop=UploadCrop(width=crop.width, height=crop.height, left=crop.left,
                                             top=crop.top, size=crop.size)),
            parts=[part for part in PARTS if part in parts or part == "prediction"], id=None,
            seconds=round(time.perf_counter() - start, 4))

    def model_for(self, weights: Weights) -> torch.nn.Module:
        if self.model is None or self.model[0] is not weights:
            self.model = (weights, as_model(weights, self.model[1] if self.model else None))
        return self.model[1]

    def sliding_for(self, weights: Weights) -> Sliding:
        """The live network recast to slide (server/models/recast.py); raises NotRecastable."""
        if self.sliding is None or self.sliding[0] is not weights:
            self.sliding = None
            self.sliding = (weights, recast(self.model_for(weights)))
        return self.sliding[1]

    def run_slide(self, data: bytes, weights: Weights, side: int = 256, exact: bool = True,
                  threshold: float = 0.5) -> SlideResult:
        """Decode the whole photo and slide the live network over it, in this thread (one request at a time)."""
        with self.lock, one_thread():
            start = time.perf_counter()
            fmt = weights.input_format
            sliding = self.sliding_for(weights)  # first: a network that cannot slide is refused before decoding
            photo = decode_photo(data, fmt, side)
            found = slide(sliding, fmt.to_tensor(photo.pixels), exact, threshold)
            image = SlidePhoto(width=photo.pixels.shape[1], height=photo.pixels.shape[0],
                               data=png_data_url(photo.pixels), format=photo.format, mode=photo.mode,
                               source_width=photo.width, source_height=photo.height, scale=round(photo.scale, 6),
                               notes=photo.notes)
        return slide_result(weights, sliding, found, image, threshold, time.perf_counter() - start)

    def index_for(self, features: TrainFeatures) -> FeatureIndex:
        if self.index is None or self.index[0] is not features:
            model = as_model(features.weights)
            rows = torch.from_numpy(features.features)  # float16, as the index keeps them
            self.index = (features, FeatureIndex(rows, model, features.weights.step))
        return self.index[1]

    def neighbours(self, pixels: np.ndarray, weights: Weights, k: int) -> Neighbours:
        features, train_set = self.mirror.features, self.mirror.train_set
        if k <= 0:
            return Neighbours(step=None, age=None, items=[], note="not asked for")
        if features is None or train_set is None or features.weights.spec != weights.spec \
                or len(features.features) != len(train_set.labels):
            self.index = None  # let an old index go
            return Neighbours(step=None, age=None, items=[],
                              note="the feature index of the training images is still being built; "
                                   "it takes a while on a CPU: try again in a minute")
        index = self.index_for(features)
        query = embed(index.model, weights.input_format.to_tensor(pixels))
        classes = weights.classes
        items = [Neighbour(index=i, label=classes[int(train_set.labels[i])], similarity=round(s, 4))
                 for i, s in index.search(query, k)]
        return Neighbours(step=index.step, age=round(time.time() - features.weights.time, 1), items=items)


def slide_result(weights: Weights, sliding: Sliding, found: Found, photo: SlidePhoto, threshold: float,
                 seconds: float) -> SlideResult:
    classes, costs = weights.classes, found.costs
    maps = [SlideMap(class_=name, peak=round(float(p.max()), 4),
                     data=base64.b64encode((p * 255).round().to(torch.uint8).numpy().tobytes()).decode())
            for name, p in zip(classes, found.probabilities)]
    boxes = [SlideBox(class_=classes[b.cls], p=b.p, x=b.x, y=b.y, width=b.width, height=b.height)
             for b in found.boxes]
    layers = []
    for row in sliding.rows:  # each spec layer, with the costs of the steps it became
        mine = [k for k, step in enumerate(sliding.steps) if step.path[:1] == row.path]
        last = sliding.steps[mine[-1]] if mine else None
        layers.append(SlideLayer(
            path=list(row.path), layer=row.layer, recast=row.recast, window=sum(costs.window[k] for k in mine),
            one_pass=sum(costs.one_pass[k] for k in mine), shared=sum(costs.shared[k] for k in mine),
            frames=sum(costs.frames[k] for k in mine),
            frame=list(last.frame) if last is not None and any(last.frame) else None,
            whole=last is not None and last.full))
    one_pass, shared, frames = sum(costs.one_pass), sum(costs.shared), sum(costs.frames)
    return SlideResult(
        model=weights.name, step=weights.step, age=round(max(0.0, time.time() - weights.time), 3),
        classes=classes, exact=found.exact, threshold=threshold, window=list(sliding.window[1:]),
        stride=list(sliding.stride), grid=list(found.probabilities.shape[1:]), photo=photo, maps=maps, boxes=boxes,
        layers=layers,
        macs=SlideCosts(windows=costs.windows, per_window=costs.per_window, one_pass=one_pass, exact=costs.exact,
                        shared=shared, frames=frames, run=costs.exact if found.exact else one_pass),
        seconds=round(seconds, 4))
