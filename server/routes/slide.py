"""/api/slide: upload a photo, get the live network slid over it (the lesson /learn/slide).

The network is recast to slide (server/models/recast.py: its fc layers become convolutions) and
run in the server process on the weights the worker mirrors to it, one request at a time with the
classifications (server/inference/live.py). The upload is read as /api/classify reads it, with its
limits and its rate limit; this module maps the errors to 4xx.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from ..deps import ClassifierDep
from ..inference import ImageError
from ..inference.live import NotReady
from ..inference.slide import TooCostly
from ..limits import limit
from ..models.recast import NotRecastable
from ..protocol import Problem, SlideResult
from .classify import UPLOAD_BODY, read_upload
from .errors import ApiError

router = APIRouter(prefix="/api", tags=["slide"])


@router.post("/slide", response_model=SlideResult, openapi_extra=UPLOAD_BODY,
             responses={code: {"model": Problem} for code in (400, 409, 413, 415, 422, 429, 503)},
             dependencies=[limit("classify")])  # the same bucket as classifying: the same CPU
async def slide_upload(
        request: Request, classifier: ClassifierDep,
        side: Annotated[int, Query(ge=32, le=1024, description="the photo's longer side, in pixels")] = 256,
        exact: Annotated[bool, Query(description="each window exactly as the network sees a crop (padding "
                                                 "zeros at its edges); false: one pass over the photo")] = True,
        threshold: Annotated[float, Query(ge=0, le=1, description="the least probability boxed")] = 0.5,
) -> Response:
    """Slide the live network over an uploaded photo: each class's probability at every window, and boxes."""
    start = time.perf_counter()
    data = await read_upload(request)
    try:
        result = await classifier.slide(data, side=side, exact=exact, threshold=threshold)
    except (ImageError, NotReady) as e:
        raise ApiError(e.status, str(e)) from None
    except NotRecastable as e:
        raise ApiError(422, f"the live network cannot slide over a photo: {e}", e.path) from None
    except TooCostly as e:
        raise ApiError(422, str(e)) from None
    body = result.to_json()
    took = (time.perf_counter() - start) * 1e3
    return Response(body, media_type="application/json", headers={"Server-Timing": f"slide;dur={took:.1f}"})
