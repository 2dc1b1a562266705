"""/api/layers: the layer spec's types, for the page's network editor (server/models/layers.py)."""

from __future__ import annotations

from fastapi import APIRouter

from ..models.layers import TYPES
from ..protocol import LayerTypeInfo

router = APIRouter(prefix="/api/layers", tags=["models"])


@router.get("", response_model=dict[str, LayerTypeInfo])
def layer_types() -> dict[str, LayerTypeInfo]:
    """Every layer type in the spec's order: its fields (kind, default, choices), a sentence, a starter layer."""
    return {name: LayerTypeInfo.of(kind) for name, kind in TYPES.items()}
