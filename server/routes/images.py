"""/api/images: the test images, for the page's probe picker and example predictions."""

from __future__ import annotations

import io

from fastapi import APIRouter, Response
from PIL import Image

from ..deps import MirrorDep
from ..protocol import Problem
from .errors import ApiError

router = APIRouter(prefix="/api/images", tags=["images"])


@router.get("/test/{index}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, 404: {"model": Problem}, 409: {"model": Problem}})
def test_image(index: int, mirror: MirrorDep) -> Response:
    test_set = mirror.test_set
    if test_set is None:
        raise ApiError(409, "the test images are not loaded yet")
    if not 0 <= index < len(test_set.labels):
        raise ApiError(404, f"no test image {index}: there are {len(test_set.labels)} (0 to {len(test_set.labels) - 1})")
    png = io.BytesIO()
    Image.fromarray(test_set.images[index]).save(png, format="PNG")
    return Response(png.getvalue(), media_type="image/png", headers={"Cache-Control": "max-age=300"})
