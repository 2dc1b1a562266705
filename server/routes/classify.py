"""/api/classify: upload an image, get the live model's verdict, why, and the nearest training images.

The work is in server/inference (decode_image, classify, FeatureIndex) and runs in the server
process on the weights the worker mirrors to it (server/inference/live.py), so training goes on
undisturbed. This module only reads the upload, within its size limit, checks which parts of the
answer are asked for (`parts`), and maps errors to 4xx. GET /api/classify/{id} sends the parts an
upload's answer left out; it spends none of the client's classifications (each part of an upload
is computed once at most: server/inference/live.py, KeptUploads).
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.requests import ClientDisconnect

try:  # python-multipart >= 0.0.13
    from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
except ImportError:  # pragma: no cover - older releases name the module `multipart`
    from multipart.multipart import MultipartParseError, MultipartParser, parse_options_header

from ..deps import ClassifierDep, WorkerDep
from ..inference import MAX_BYTES, ImageError
from ..inference.live import EVERY, PARTS, NotKept, NotReady
from ..limits import limit
from ..protocol import ClassifyResult, Problem
from .errors import ApiError

router = APIRouter(prefix="/api", tags=["classify"])
NO_FILE = "no file in the form: send the image as a multipart/form-data file field named 'file'"
FORM_OVERHEAD = 64 * 1024  # bytes of multipart framing allowed on top of the file itself
UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "JPEG, PNG, WebP, GIF or BMP, at most 10 MB"}}}},
    "image/*": {"schema": {"type": "string", "format": "binary"}}}}}
PARTS_HELP = ("the parts of the answer to compute, comma-separated: " + ", ".join(PARTS)
              + " (the prediction is always there); not given: all of them")


async def read_upload(request: Request, limit: int = MAX_BYTES) -> bytes:
    """The uploaded file's bytes: the first file of a multipart form, or a raw image body.

    Refuses (413) as soon as more than the limit has arrived: a large upload is never kept whole."""
    too_big = ApiError(413, f"the upload is larger than the limit of {limit / 2**20:.0f} MB")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise too_big
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit + FORM_OVERHEAD:
                raise too_big
    except ClientDisconnect:
        raise ApiError(400, "the upload was cut off") from None
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/x-www-form-urlencoded"):
        raise ApiError(422, NO_FILE)
    if not kind.startswith("multipart/form-data"):
        if len(body) > limit:
            raise too_big
        return bytes(body)

    data = first_file(bytes(body), kind)
    if data is None:
        raise ApiError(422, NO_FILE)
    if len(data) > limit:
        raise too_big
    return data


def first_file(body: bytes, content_type: str) -> bytes | None:
    """The contents of the first file part of a multipart/form-data body (None: no file part).

    Parsed in memory with python-multipart's parser: the body is already within the limit, and
    Starlette's form parsing would spool anything over 1 MB to a temporary file (10x slower)."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise ApiError(400, "a multipart/form-data body needs a boundary in its Content-Type")
    parts: list[tuple[dict[bytes, bytes], list[bytes]]] = []
    field: list[bytes] = []
    value: list[bytes] = []

    def header_end() -> None:
        parts[-1][0][b"".join(field).lower()] = b"".join(value)
        field.clear()
        value.clear()

    parser = MultipartParser(boundary, {
        "on_part_begin": lambda: parts.append(({}, [])),
        "on_header_field": lambda data, start, end: field.append(data[start:end]),
        "on_header_value": lambda data, start, end: value.append(data[start:end]),
        "on_header_end": header_end,
        "on_part_data": lambda data, start, end: parts[-1][1].append(data[start:end]),
    })
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as e:
        raise ApiError(400, f"the multipart/form-data body is malformed: {e}") from None
    for headers, chunks in parts:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        if b"filename" in disposition:
            return b"".join(chunks)
    return None


def parse_parts(text: str | None) -> frozenset[str] | None:
    """`parts=gradcam,frame` as a set (the prediction always in it); None for None. Raises 422."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in EVERY]
    if unknown:
        raise ApiError(422, f"parts: unknown part{'s' if len(unknown) > 1 else ''} "
                            f"{', '.join(repr(n[:40]) for n in unknown[:5])}; the parts are {', '.join(PARTS)} "
                            "(comma-separated; the prediction is always there)")
    return frozenset(names) | {"prediction"}


def answered(result, start: float) -> Response:
    body = result.to_json()  # here, not by FastAPI afterwards: Server-Timing covers it too
    took = (time.perf_counter() - start) * 1e3
    return Response(body, media_type="application/json", headers={"Server-Timing": f"classify;dur={took:.1f}"})


@router.post("/classify", response_model=ClassifyResult, openapi_extra=UPLOAD_BODY,
             responses={code: {"model": Problem} for code in (400, 409, 413, 415, 422, 429, 503)},
             dependencies=[limit("classify")])  # per client address (server/limits.py)
async def classify_upload(
        request: Request, classifier: ClassifierDep, worker: WorkerDep,
        top: Annotated[int, Query(ge=1, le=1000, description="how many classes to list")] = 5,
        neighbours: Annotated[int, Query(ge=0, le=100, description="nearest training images; 0: none")] = 8,
        frame: Annotated[bool, Query(description="include every layer's maps as a probe frame")] = True,
        parts: Annotated[str | None, Query(max_length=200, description=PARTS_HELP)] = None,
) -> Response:
    """Classify an uploaded image with the live model (weights at most about a second old)."""
    start = time.perf_counter()
    wanted = parse_parts(parts) or EVERY  # checked before the upload is read
    if not frame:
        wanted -= {"frame"}
    data = await read_upload(request)
    if "neighbours" in wanted and neighbours > 0:
        remind(classifier, worker)
    try:
        result = await classifier.classify(data, top=top, neighbours=neighbours, parts=wanted)
    except (ImageError, NotReady) as e:
        raise ApiError(e.status, str(e)) from None
    return answered(result, start)


@router.get("/classify/{id}", response_model=ClassifyResult,
            responses={code: {"model": Problem} for code in (404, 409, 422, 429, 503)})
async def classify_kept(
        id: Annotated[str, Path(max_length=100, description="the id of an upload's answer")],  # noqa: A002
        classifier: ClassifierDep, worker: WorkerDep,
        top: Annotated[int, Query(ge=1, le=1000, description="how many classes to list")] = 5,
        neighbours: Annotated[int, Query(ge=0, le=100, description="nearest training images; 0: none")] = 8,
        parts: Annotated[str | None, Query(max_length=200, description=(
            "the parts to send, comma-separated, each at most once per upload; not given: every part "
            "not sent yet"))] = None,
) -> Response:
    """The parts an upload's answer left out (its `id`), computed now with the live model."""
    start = time.perf_counter()
    wanted = parse_parts(parts)
    if (wanted is None or "neighbours" in wanted) and neighbours > 0:
        remind(classifier, worker)
    try:
        result = await classifier.classify_kept(id, top=top, neighbours=neighbours, parts=wanted)
    except (NotKept, NotReady) as e:
        raise ApiError(e.status, str(e)) from None
    return answered(result, start)


def remind(classifier, worker) -> None:
    """Someone wants neighbours: keep the training images' feature index fresh for a while."""
    if worker.alive and classifier.remind():
        worker.send("classifying")
