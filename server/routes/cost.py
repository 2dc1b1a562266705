"""/api/cost: the cost lab's comparisons (server/models/costlab.py), costed by the layer table."""

from __future__ import annotations

from fastapi import APIRouter

from ..models import SpecError
from ..models.costlab import compare
from ..protocol import CostComparison, CostQuestion, CostSide, Problem
from .errors import ApiError

router = APIRouter(prefix="/api/cost", tags=["teaching"])


@router.post("", response_model=CostComparison, responses={422: {"model": Problem}})
def cost(body: CostQuestion) -> CostComparison:
    """Two ways to build a layer on the same input, with parameters and MACs per layer."""
    try:
        comparison = compare(body.lab, (body.channels, body.height, body.width), body.filters, body.size,
                             body.reduce)
    except SpecError as e:
        raise ApiError(422, str(e), e.path) from None
    sides = [CostSide(name=s.name, spec=s.spec, layers=s.rows, params=s.params,
                      macs=s.macs, activations=s.activations, receptive_field=s.receptive_field)
             for s in comparison.sides]
    return CostComparison(lab=comparison.lab, title=comparison.title, sides=sides)
