"""/api/models: the preset zoo and layer tables of any spec."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import MirrorDep
from ..models import PRESETS, SpecError
from ..protocol import ModelInfo, ModelSummary, Problem, SpecBody
from ..summary import preset_summary, summarize
from .errors import ApiError

router = APIRouter(prefix="/api/models", tags=["models"])


@router.get("", response_model=list[ModelInfo])
def list_models() -> list[ModelInfo]:
    return [ModelInfo(name=name, title=p.title, note=p.note, params=preset_summary(name).params,
                      macs=preset_summary(name).macs) for name, p in PRESETS.items()]


@router.get("/{name}/summary", response_model=ModelSummary, responses={404: {"model": Problem}})
def model_summary(name: str) -> ModelSummary:
    if name not in PRESETS:
        raise ApiError(404, f"unknown model {name!r}; known models: {', '.join(PRESETS)}")
    return preset_summary(name)


@router.post("/summary", response_model=ModelSummary, responses={422: {"model": Problem}})
def spec_summary(body: SpecBody, mirror: MirrorDep) -> ModelSummary:
    """The layer table of any spec: output shapes, parameters, MACs; 422 names the bad layer."""
    try:
        return summarize("custom", body.spec, len(mirror.classes) or 10)
    except SpecError as e:
        raise ApiError(422, str(e), e.path) from None
