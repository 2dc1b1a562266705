"""Every layer type is whole: a sentence, a place in the classic pattern, a starter layer, and fields
whose description (what the page's editor draws, GET /api/layers) is what validation does."""

import pytest

from convscope.models import SpecError, validate
from convscope.models.layers import PATTERN, TYPES
from convscope.models.spec import _normalise

BAD = {"int": 0, "int0": -1, "number": "1", "prob": 1.0, "bool": 1, "choice": "__none__", "layers": [],
       "branches": [{"type": "relu"}]}


def normalise(layer: dict) -> dict:
    return _normalise(layer, "layer 0", (0,))


@pytest.mark.parametrize("kind", TYPES)
def test_every_type_has_a_sentence_a_pattern_place_and_a_starter(kind):
    t = TYPES[kind]
    assert t.type == kind and t.about.endswith(".") and t.pattern in PATTERN
    assert bool(t.why) == (t.pattern in ("block", "inner"))
    starter = {"type": kind, **t.start}
    layer = normalise(starter)  # every required field has a starting value
    spec = [starter] if t.position != "last" else [{"type": "fc", "units": 10}, starter]
    assert validate(spec, num_classes=None)[-1] == layer and t.name(layer)


@pytest.mark.parametrize("kind, name", [(kind, name) for kind in TYPES for name in TYPES[kind].fields])
def test_every_field_is_checked_as_described(kind, name):
    field, starter = TYPES[kind].fields[name], {"type": kind, **TYPES[kind].start}
    without = {k: v for k, v in starter.items() if k != name}
    if field.required:
        with pytest.raises(SpecError, match=f'missing required field "{name}"'):
            normalise(without)
    else:
        layer = normalise(without)
        assert layer[name] == (layer[field.same_as] if field.same_as else field.default)
    for choice in field.choices or ():
        assert normalise({**starter, name: choice})[name] == choice
    with pytest.raises(SpecError, match=f'"{name}" must be'):
        normalise({**starter, name: BAD[field.kind]})
