"""Uploads classified by a watched model, in the user's process, through the user's preprocessing.

    classifier = WatchedClassifier(page)         # what the watch role's routes call
    result = await classifier.classify(data)     # a ClassifyResult; raises ImageError or NotReady

The user's model is training in another thread, so a request never runs it: it runs a copy, made
once per watch (copy.deepcopy) and refreshed from the live weights when the loop has stepped
since. An upload becomes an input by the watch's `preprocess` (a callable on a PIL image, as
torchvision's transforms are) when given, else by scaling its centre square to the probe images'
size and channels, normalised as they are (server/watched/pixels.py). Every answer carries all its
parts (nothing is kept for a follow-up); the nearest training images need convscope's own
training set, so a watched model has none. One request runs at a time, at most MAX_WAITING wait.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..inference.image import decode_image, decode_whole
from ..inference.live import EVERY, MAX_WAITING, PARTS, NotKept, NotReady, png_data_url, saliency
from ..protocol import ClassifyResult, Guess, Neighbours, ProbeSource, UploadCrop, UploadInfo
from .layers import WatchedLayer
from .probe import capture, probe_frame

if TYPE_CHECKING:
    from .local import LocalPage
    from .session import Watch

NO_NEIGHBOURS = "a watched model's training images are the script's own: there are none to search"


@dataclass
class Copy:
    """A watch's model, copied: its layers are the copy's modules."""
    watch: "Watch"
    model: nn.Module
    layers: list[WatchedLayer]
    step: int = -1  # of the weights copied


class WatchedClassifier:
    def __init__(self, page: "LocalPage") -> None:
        self.page = page
        self.lock = threading.Lock()
        self.waiting = 0
        self.copy: Copy | None = None

    def remind(self) -> bool:
        return False  # the watched loop needs no reminder: nothing is built for classifying

    async def classify(self, data: bytes, top: int = 5, neighbours: int = 8,
                       parts: frozenset[str] = EVERY) -> ClassifyResult:
        watch = self.page.watch
        if watch is None:
            raise NotReady(409, "no model is watched yet: call convscope.watch(model, ...) in the script")
        if self.waiting >= MAX_WAITING:
            raise NotReady(429, f"{self.waiting} classifications are already waiting; try again in a moment")
        self.waiting += 1
        try:
            return await asyncio.to_thread(self.run, watch, data, top)
        finally:
            self.waiting -= 1

    async def classify_kept(self, upload: str, top: int = 5, neighbours: int = 8,
                            parts: frozenset[str] | None = None) -> ClassifyResult:
        raise NotKept(404, "a watched model's answers carry every part: there is nothing kept to fetch")

    async def slide(self, data: bytes, side: int = 256, exact: bool = True, threshold: float = 0.5):
        raise NotReady(409, "sliding over a photo needs one of convscope's own networks, not a watched model")

    def run(self, watch: "Watch", data: bytes, top: int) -> ClassifyResult:
        """Decode, classify and explain in this thread (one request at a time)."""
        with self.lock:
            start = time.perf_counter()
            if watch.preprocess is not None:
                image, decoded = decode_whole(data)
                try:
                    x = torch.as_tensor(watch.preprocess(image)).float()
                except Exception as e:
                    raise NotReady(422, f"the script's preprocess failed on this image: {e!r}") from None
                x = x[None] if x.dim() == 3 else x
                if tuple(x.shape[1:]) != tuple(watch.probe.shape[1:]):
                    raise NotReady(422, f"the script's preprocess made an input of shape {tuple(x.shape[1:])}; "
                                        f"the model takes {tuple(watch.probe.shape[1:])}")
                pixels = watch.format.pixels(x)[0]
            else:
                decoded = decode_image(data, watch.format.input_format())
                pixels = decoded.pixels
                x = watch.format.input_format().to_tensor(pixels)
            mirror = self.copy_of(watch)
            step = mirror.step
            captured = capture(mirror.model, mirror.layers, x, gradcam=True, gradient=True)
            frame = probe_frame(mirror.layers, captured, pixels, step, ProbeSource(source="upload", index=0))
        p = captured.logits[0].float().softmax(0)
        classes = watch.classes
        best = p.topk(min(top, len(classes)))
        crop = decoded.crop
        return ClassifyResult(
            model=watch.name, step=step, age=0.0,
            top=[Guess(class_=classes[c], p=q) for q, c in zip(best.values.tolist(), best.indices.tolist())],
            probabilities=p.tolist(), explained=classes[captured.target], input=png_data_url(pixels),
            gradcam=saliency(captured.gradcam, captured.gradcam_layer) if captured.gradcam is not None else None,
            gradient=saliency(captured.gradient) if captured.gradient is not None else None,
            frame=base64.b64encode(frame).decode(),
            neighbours=Neighbours(step=None, age=None, items=[], note=NO_NEIGHBOURS),
            image=UploadInfo(format=decoded.format, mode=decoded.mode, notes=decoded.notes,
                             crop=UploadCrop(width=crop.width, height=crop.height, left=crop.left, top=crop.top,
                                             size=crop.size)),
            parts=list(PARTS), id=None, seconds=round(time.perf_counter() - start, 4))

    def copy_of(self, watch: "Watch") -> Copy:
        """The copy of the watch's model, with the weights of its newest step."""
        if self.copy is None or self.copy.watch is not watch:
            self.copy = None  # let an old watch's copy go first
            try:
                model = copy.deepcopy(watch.model).eval().requires_grad_(False)
            except Exception as e:
                raise NotReady(409, f"the model cannot be copied to classify uploads beside its training: {e!r}") from None
            layers = [dataclasses.replace(layer, module=model.get_submodule(layer.name) if layer.module is not None else None)
                      for layer in watch.layers]
            self.copy = Copy(watch, model, layers)
        if self.copy.step != watch.step:
            self.copy.step = watch.step
            with torch.no_grad():
                self.copy.model.load_state_dict(watch.model.state_dict())
        return self.copy
