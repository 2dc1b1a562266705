"""A network's summary for the wire: its normalised spec and layer table, with totals."""

from __future__ import annotations

from functools import cache

from .models import PRESETS, layer_table, totals, validate
from .models.pattern import pattern
from .protocol import ModelSummary, PatternInfo


def summarize(name: str, spec: list, num_classes: int = 10) -> ModelSummary:
    """Validate `spec` (raises SpecError) and describe it layer by layer, and as the classic pattern."""
    normalised = validate(spec, num_classes)
    table = layer_table(normalised, num_classes)
    params, macs = totals(table)
    return ModelSummary(name=name, spec=normalised, layers=table,
                        params=params, macs=macs, pattern=PatternInfo.of(pattern(normalised)))


@cache
def preset_summary(name: str) -> ModelSummary:
    """The summary of a preset (computed once)."""
    return summarize(name, PRESETS[name].spec)
