"""/api/images: the test images (probe picker, predictions, confusion cells) and the training
images (nearest neighbours of a classified upload)."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Response

from ..deps import MirrorDep
from ..inference.image import png_bytes
from ..protocol import Problem
from .errors import ApiError

PNG_RESPONSES = {200: {"content": {"image/png": {}}}, 404: {"model": Problem}, 409: {"model": Problem}}

router = APIRouter(prefix="/api/images", tags=["images"])


def png_response(pixels: np.ndarray) -> Response:
    return Response(png_bytes(pixels), media_type="image/png", headers={"Cache-Control": "max-age=300"})


@router.get("/test/{index}.png", response_class=Response, responses=PNG_RESPONSES)
def test_image(index: int, mirror: MirrorDep) -> Response:
    test_set = mirror.test_set
    if test_set is None:
        raise ApiError(409, "the test images are not loaded yet")
    if not 0 <= index < len(test_set.labels):
        raise ApiError(404, f"no test image {index}: there are {len(test_set.labels)} (0 to {len(test_set.labels) - 1})")
    return png_response(test_set.images[index])


@router.get("/train/{index}.png", response_class=Response, responses=PNG_RESPONSES)
def train_image(index: int, mirror: MirrorDep) -> Response:
    train_set = mirror.train_set
    if train_set is None:
        raise ApiError(409, "the training images are not loaded yet")
    if not 0 <= index < len(train_set.labels):
        raise ApiError(404, f"no training image {index}: there are {len(train_set.labels)} "
                            f"(0 to {len(train_set.labels) - 1})")
    return png_response(train_set.images[index])
