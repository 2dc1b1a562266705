"""/api/evaluation: the test images behind a cell of the last evaluation's confusion matrix."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query

from ..deps import MirrorDep
from ..protocol import ConfusionCell, Problem
from .errors import ApiError

router = APIRouter(prefix="/api/evaluation", tags=["evaluation"])


@router.get("/confusion/{true}/{predicted}", response_model=ConfusionCell,
            responses={404: {"model": Problem}, 409: {"model": Problem}})
def confusion_cell(true: int, predicted: int, mirror: MirrorDep,
                   limit: Annotated[int, Query(ge=0, le=10000)] = 60) -> ConfusionCell:
    """The test images of class `true` that the last evaluation classified as `predicted`."""
    verdicts, test_set = mirror.test_predictions, mirror.test_set
    if verdicts is None or test_set is None:
        raise ApiError(409, "no evaluation yet: the first comes after the first epoch")
    classes = test_set.classes
    for name, value in (("true", true), ("predicted", predicted)):
        if not 0 <= value < len(classes):
            raise ApiError(404, f"no class {value} ({name}): the classes are 0 to {len(classes) - 1}")
    hits = np.flatnonzero((test_set.labels == true) & (verdicts.predicted == predicted))
    return ConfusionCell(step=verdicts.step, true=classes[true], predicted=classes[predicted],
                         count=len(hits), indices=hits[:limit].tolist())
