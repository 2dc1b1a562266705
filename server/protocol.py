"""Every message that crosses the wire, in one place: websocket messages, the binary probe frame,
and the REST request and reply bodies. docs/protocol.md documents each one with an example.

Text websocket messages are pydantic models with a literal `type`; a probe is one binary frame:

    b"CSP1" | uint32 LE header length H | H bytes of JSON (ProbeHeader) | uint8 payload
"""

from __future__ import annotations

import json
import struct
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from .models.cost import LayerRow  # a row of the layer table, sent as it is
from .train.config import LIVE, field_types

PROTOCOL_VERSION = 1
PROBE_MAGIC = b"CSP1"
MAX_PROBE_BYTES = 512 * 1024  # a probe frame never exceeds this

Status = Literal["loading", "training", "paused", "finished", "error"]


class Wire(BaseModel):
    """Base of every message: field names as written here, extra fields refused."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


# -- shared shapes -----------------------------------------------------------------------------
class DataProgress(Wire):
    stage: str  # e.g. "downloading", "decoding train images"
    done: int
    total: int  # 0 when unknown


class DatasetInfo(Wire):
    source: str  # where the images came from
    train_size: int
    test_size: int  # test image indices run from 0 to test_size - 1
    channels: int  # of the images: 3 (RGB) or 1 (grayscale)
    height: int
    width: int
    classes: list[str]  # the dataset's class names, in label order


class ProbeImage(Wire):
    index: int  # index in the test set
    label: str  # its true class


class RunState(Wire):
    status: Status
    model: str  # preset name, or the name given to a custom spec
    config: dict[str, Any]  # every TrainConfig field (server/train/config.py)
    step: int = 0
    epoch: float = 0.0
    images_seen: int = 0
    seconds: float = 0.0  # training time so far (pauses and evaluation excluded)
    images_per_second: float = 0.0  # over the last few steps
    message: str | None = None  # why the status is "error", or a note for the person watching
    data_progress: DataProgress | None = None  # while loading data
    device: str = "cpu"
    precision: Literal["bf16", "fp16", "fp32"] = "fp32"
    probe: ProbeImage | None = None  # the test image probes run on (None until data is loaded)
    dataset: DatasetInfo | None = None  # None until data is loaded
    run_id: str | None = None  # the run in the run store (GET /api/runs); None until one starts
    source: Literal["trainer", "watch"] = "trainer"  # convscope's own trainer, or a loop of the user's (convscope.watch)
    control: bool = True  # the page may pause it and change it (a watched loop only if its script allows)


class MetricPoint(Wire):
    step: int
    epoch: float
    loss: float
    accuracy: float  # of the (augmented) training batch
    lr: float
    batch_size: int
    images_per_second: float
    seconds: float  # training time so far
    time: float  # server unix time when the step ended


class EvalPoint(Wire):
    step: int
    epoch: float
    loss: float
    accuracy: float
    per_class: list[float]
    seconds: float
    confusion: list[list[int]] | None = None  # in hello: on the newest point only


class PresetInfo(Wire):
    name: str
    title: str
    params: int
    macs: int


class History(Wire):
    train: list[MetricPoint]  # downsampled to at most 2000 points
    test: list[EvalPoint]


class Guess(Wire):
    class_: str = Field(alias="class")
    p: float


class Prediction(Wire):
    index: int  # index in the test set (GET /api/images/test/{index}.png)
    label: str  # the true class
    top: list[Guess]  # the 3 most likely classes, most likely first


# -- websocket messages, server -> client --------------------------------------------------------
class Hello(Wire):
    type: Literal["hello"] = "hello"
    protocol_version: int = PROTOCOL_VERSION
    run: RunState
    layers: list[LayerRow]
    history: History
    classes: list[str]
    presets: list[PresetInfo]
    probe: ProbeImage | None


class State(Wire):
    type: Literal["state"] = "state"
    run: RunState


class Metrics(Wire):
    type: Literal["metrics"] = "metrics"
    points: list[MetricPoint]


class Eval(EvalPoint):
    type: Literal["eval"] = "eval"
    confusion: list[list[int]]  # confusion[true][predicted], counts


class ModelChanged(Wire):
    type: Literal["model"] = "model"
    name: str
    spec: list[dict[str, Any]]  # normalised: every field present
    layers: list[LayerRow]
    run_id: str  # a new run, or one resumed from its checkpoint
    resumed_step: int | None = None  # the checkpoint's step when resumed: a hello with its history follows


class Predictions(Wire):
    type: Literal["predictions"] = "predictions"
    step: int
    items: list[Prediction]


class Error(Wire):
    type: Literal["error"] = "error"
    message: str


MESSAGES: tuple[type[Wire], ...] = (Hello, State, Metrics, Eval, ModelChanged, Predictions, Error)


# -- the binary probe frame ----------------------------------------------------------------------
class Blob(Wire):
    layer: int  # top-level layer index; -1 for the input image
    kind: Literal["activation", "activation_grad", "filter", "filter_grad", "input"]
    count: int  # tiles present (at most 64; the layer may have more)
    height: int
    width: int
    channels: Literal[1, 3]  # 3: RGB, interleaved
    min: float  # the real value byte 0 stands for
    max: float  # the real value byte 255 stands for
    offset: int  # into the payload
    length: int  # count * height * width * channels


class ProbeSource(Wire):
    source: Literal["test", "upload"]
    index: int


class ProbeHeader(Wire):
    type: Literal["probe"] = "probe"
    step: int
    image: ProbeSource
    blobs: list[Blob]


def encode_probe(header: ProbeHeader, payload: bytes) -> bytes:
    """One binary probe frame: magic, header length, JSON header, payload."""
    head = header.to_json().encode()
    return PROBE_MAGIC + struct.pack("<I", len(head)) + head + payload


def decode_probe(frame: bytes) -> tuple[ProbeHeader, memoryview]:
    """The header and payload of a probe frame; ValueError when it is not one."""
    if frame[:4] != PROBE_MAGIC or len(frame) < 8:
        raise ValueError("not a probe frame (no CSP1 magic)")
    (length,) = struct.unpack_from("<I", frame, 4)
    header = ProbeHeader.model_validate(json.loads(frame[8:8 + length]))
    return header, memoryview(frame)[8 + length:]


# -- REST -----------------------------------------------------------------------------------------
class Request(BaseModel):
    """A request body: strict types (no "64" for 64), unknown fields refused."""
    model_config = ConfigDict(extra="forbid", strict=True)


class Health(Wire):
    status: Literal["ok"] = "ok"
    worker: Literal["alive", "restarting"]
    protocol_version: int = PROTOCOL_VERSION


class SessionInfo(Wire):
    """GET /api/session: may this client change the run?"""
    owner: bool
    message: str


class RunInfo(RunState):
    layers: list[LayerRow]


class RunSummary(Wire):
    """A run kept in the run store (server/runs/)."""
    id: str
    name: str  # the model's name
    created: float  # unix time
    updated: float  # unix time of its newest point or change
    status: str  # the live run's status; "stopped" or "finished" for the others
    step: int
    epoch: float
    test_accuracy: float | None  # of its newest evaluation
    checkpoint_step: int | None  # it can be resumed from this step; None: it cannot
    config: dict[str, Any]
    live: bool  # the run training now


class RunList(Wire):
    runs: list[RunSummary]  # the most recently active first
    problem: str | None = None  # the run database was damaged and set aside at start, or cannot be written


class RunHistory(Wire):
    run: RunSummary
    train: list[MetricPoint]  # thinned evenly to at most `points`
    test: list[EvalPoint]


class CommandReply(Wire):
    ok: bool  # whether the command took effect
    message: str
    run: RunState


class HyperparamChanges(Request):
    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


# PATCH /api/run/hyperparams: any of the live hyperparameters, typed and described by TrainConfig
Hyperparams = create_model(
    "Hyperparams", __base__=HyperparamChanges,
    **{name: (kind | None, Field(None, description=text))
       for name, (kind, text) in field_types().items() if name in LIVE})


class ModelChoice(Request):
    name: str | None = Field(None, description="a preset name (GET /api/models)")
    spec: list[Any] | None = Field(None, description="a layer spec (docs/layer-spec.md)")


class ProbeChoice(Request):
    index: int = Field(description="index of a test image")


class SpecBody(Request):
    spec: list[Any]


class ModelInfo(Wire):
    name: str
    title: str
    note: str
    params: int
    macs: int


class PatternIssue(Wire):
    path: list[int]  # the layer where the network leaves the pattern
    message: str


class PatternInfo(Wire):
    """The network read as INPUT - [(CONV-RELU)*N - POOL?]*M - (FC-RELU)*K - FC - SOFTMAX
    (server/models/pattern.py)."""
    fits: bool
    text: str  # "INPUT - [(CONV-RELU)*1 - POOL]*3 - FC - SOFTMAX", or the plain chain where it breaks
    summary: str  # "Fits, with N = 1, M = 3, K = 0." or "Does not fit: ..."
    n: list[int]  # conv-activation pairs per stage
    m: int  # stages
    k: int  # hidden fc layers
    why: list[PatternIssue]  # empty when it fits
    notes: list[str]  # what was left out or read loosely (batchnorm, dropout, NiN blocks, global pooling)

    @classmethod
    def of(cls, pattern: Any) -> "PatternInfo":
        """From a server.models.pattern.Pattern."""
        return cls(fits=pattern.fits, text=pattern.text, summary=pattern.summary, n=list(pattern.n),
                   m=pattern.m, k=pattern.k, notes=list(pattern.notes),
                   why=[PatternIssue(path=list(i.path), message=i.message) for i in pattern.why])


class LayerField(Wire):
    kind: str  # "int" (> 0), "int0" (>= 0), "number", "prob" (in [0, 1)), "bool", "choice", "layers", "branches"
    required: bool
    default: Any = None  # when not required (and not same_as)
    choices: list[str] | None = None  # a "choice"'s options
    same_as: str | None = None  # defaults to this other field's value (pool's stride: its size)


class LayerTypeInfo(Wire):
    """GET /api/layers: one layer type, for the page's editor (server/models/layers.py)."""
    about: str
    fields: dict[str, LayerField]  # in the order of the normalised spec
    starter: dict[str, Any]  # what a new layer of this type starts as, e.g. {"type": "fc", "units": 10}

    @classmethod
    def of(cls, kind: Any) -> "LayerTypeInfo":
        """From a server.models.layers.LayerType."""
        fields = {name: LayerField(kind=f.kind, required=f.required, default=None if f.required or f.same_as else
                                   f.default, choices=list(f.choices) if f.choices else None, same_as=f.same_as)
                  for name, f in kind.fields.items()}
        return cls(about=kind.about, fields=fields, starter={"type": kind.type, **kind.start})


class ModelSummary(Wire):
    name: str
    spec: list[dict[str, Any]]
    layers: list[LayerRow]
    params: int
    macs: int
    pattern: PatternInfo | None = None  # the classic pattern, or why it does not fit


class CostQuestion(Request):
    """POST /api/cost: two ways to build a layer on a C x H x W input (server/models/costlab.py)."""
    lab: Literal["fc-vs-conv", "bottleneck", "small-filters"]
    channels: int = Field(ge=1, le=4096, description="input channels C")
    height: int = Field(ge=1, le=4096)
    width: int = Field(ge=1, le=4096)
    filters: int = Field(ge=1, le=4096, description="output channels of the conv")
    size: int = Field(ge=1, le=31, description="kernel side of the conv")
    reduce: int | None = Field(None, ge=1, le=4096, description="bottleneck only: channels of the 1x1 conv")


class CostSide(Wire):
    name: str
    spec: list[dict[str, Any]]
    layers: list[LayerRow]
    params: int
    macs: int
    activations: int  # nonlinearities in the stack
    receptive_field: int | None  # side of the input window one output sees; null: the whole input


class CostComparison(Wire):
    lab: str
    title: str
    sides: list[CostSide]


class UploadCrop(Wire):
    """Where the square the network saw lies in the uploaded picture (upright, in its own pixels)."""
    width: int
    height: int
    left: int
    top: int
    size: int  # side of the centre square that was scaled to 32x32


class UploadInfo(Wire):
    format: str  # JPEG, PNG, WEBP, GIF or BMP
    mode: str  # as stored: RGB, RGBA, P, L, I;16, CMYK, ...
    crop: UploadCrop
    notes: list[str]  # what was done to it: "turned upright as its EXIF orientation says", ...


class SaliencyMap(Wire):
    """A map over the 32x32 input: base64 of height x width uint8, 0 = no evidence, 255 = the most."""
    height: int
    width: int
    data: str
    layer: int | None = None  # Grad-CAM: the top-level layer whose maps it weighs


class Neighbour(Wire):
    index: int  # in the training set: GET /api/images/train/{index}.png
    label: str  # its class
    similarity: float  # cosine similarity of the features, -1..1


class Neighbours(Wire):
    step: int | None  # the training step of the weights the index was built with
    age: float | None  # seconds since those weights were taken
    items: list[Neighbour]  # most similar first
    note: str | None = None  # why there are none yet


class ClassifyResult(Wire):
    model: str
    step: int  # the training step of the weights that classified it
    age: float  # seconds since those weights left the training process
    top: list[Guess]  # the most likely classes, most likely first
    probabilities: list[float]  # every class, in class order; they sum to 1
    explained: str  # the class the saliency maps explain (the most likely one)
    input: str  # the 32x32 image the network saw, as a PNG data URL
    gradcam: SaliencyMap | None  # Grad-CAM on the last conv layer; null without conv layers or if not asked
    gradient: SaliencyMap | None  # |d score / d pixel|, largest over the colour channels; null if not asked
    frame: str | None  # base64 of a probe frame (source "upload"): every layer's maps; null if not asked
    neighbours: Neighbours | None  # null if not asked
    image: UploadInfo
    parts: list[str]  # what this answer carries: "prediction" (always) and the parts asked for
    id: str | None  # GET /api/classify/{id} sends the parts left out, for a while; null when none were
    seconds: float  # server time: decoding, classifying, explaining, retrieving, encoding


class ConfusionCell(Wire):
    """The test images of one cell of the last evaluation's confusion matrix."""
    step: int  # of the evaluation
    true: str
    predicted: str
    count: int  # all of them
    indices: list[int]  # the first `limit`, in test-set order (GET /api/images/test/{index}.png)


class SlidePhoto(Wire):
    """The photo the network slid over: the upload, upright, scaled."""
    width: int
    height: int
    data: str  # PNG data URL
    format: str  # of the upload: JPEG, PNG, WEBP, GIF or BMP
    mode: str  # as stored
    source_width: int  # the upload, upright, in its own pixels
    source_height: int
    scale: float  # photo pixels per upload pixel
    notes: list[str]


class SlideMap(Wire):
    """One class's probability at every window: base64 of rows x cols uint8 (p x 255), row by row."""
    class_: str = Field(alias="class")
    peak: float  # its highest probability over the photo
    data: str


class SlideBox(Wire):
    """A window where the network is sure of a class, in the photo's pixels."""
    class_: str = Field(alias="class")
    p: float
    x: int
    y: int
    width: int
    height: int


class SlideLayer(Wire):
    """A layer of the network, what it became in the recast network, and its MACs three ways."""
    path: list[int]
    layer: str  # its name in the layer table
    recast: str
    window: int  # MACs on one window
    one_pass: int  # MACs of one pass over the whole photo
    shared: int  # the exact slide: MACs computed once over the photo
    frames: int  # the exact slide: MACs each window recomputes (its frame, or all of it), all windows
    frame: list[int] | None  # [top, bottom, left, right]: the rows and columns of its output each window recomputes
    whole: bool  # the frame is all of it: from here on the layers run window by window


class SlideCosts(Wire):
    windows: int  # windows that fit in the photo
    per_window: int  # MACs of the fc network on every window separately
    one_pass: int  # of the recast network once over the photo
    exact: int  # of the exact slide: shared + frames
    shared: int
    frames: int
    run: int  # of this slide: exact or one_pass


class SlideResult(Wire):
    model: str
    step: int  # the training step of the weights that slid
    age: float  # seconds since those weights left the training process
    classes: list[str]
    exact: bool  # each window exactly as the network sees a crop; false: one pass over the photo
    threshold: float
    window: list[int]  # [height, width]: the network's input
    stride: list[int]  # [rows, columns] between neighbouring windows: the product of the layers' strides
    grid: list[int]  # [rows, cols] of windows: the maps' size
    photo: SlidePhoto
    maps: list[SlideMap]  # every class, in class order
    boxes: list[SlideBox]  # strongest first
    layers: list[SlideLayer]  # the network's top-level layers
    macs: SlideCosts
    seconds: float  # server time: decoding, sliding, encoding


class Problem(Wire):
    detail: str  # what is wrong, in words a person can act on
    path: list[int] | None = None  # for a bad spec: the layer's index, nested for blocks
