"""The editor's layer table (static/js/teach/layers.js, run under node) agrees with the server's spec."""

from __future__ import annotations

import json

from convscope.models import PRESETS, validate
from convscope.models.layers import TYPES

LAYERS_JS = "static/js/teach/layers.js"


def test_every_type_and_field_matches_the_server(run_js):
    (types,) = run_js(LAYERS_JS, [("LAYER_TYPES", [])])
    assert list(types) == list(TYPES)
    for kind, t in TYPES.items():
        assert list(types[kind]) == list(t.fields), kind
        for name, field in t.fields.items():
            js = types[kind][name]
            assert js["kind"] == field.kind, (kind, name)
            assert js.get("choices") == (list(field.choices) if field.choices else None), (kind, name)
            if field.required:
                assert "default" not in js, (kind, name)
            else:  # pool's stride (same_as its size) is null here
                assert js["default"] == (None if field.same_as else field.default), (kind, name)


def test_compact_specs_validate_to_the_same_network(run_js):
    normalised = {name: validate(p.spec) for name, p in PRESETS.items()}
    results = run_js(LAYERS_JS, [("compact", [layer]) for spec in normalised.values() for layer in spec])
    at = 0
    for name, spec in normalised.items():
        compacted = results[at:at + len(spec)]
        at += len(spec)
        assert validate(compacted) == spec, name
        assert len(json.dumps(compacted)) < len(json.dumps(spec)), name  # defaults are dropped
    (pool,) = run_js(LAYERS_JS, [("compact", [{"type": "pool", "mode": "max", "size": 3, "stride": 3, "pad": 0}])])
    assert pool == {"type": "pool", "size": 3}


def test_retype_keeps_shared_fields_and_fills_required_ones(run_js):
    to_nin, to_fc, to_relu = run_js(LAYERS_JS, [
        ("retype", [{"type": "conv", "filters": 8, "size": 5, "pad": 2, "bias": False}, "nin"]),
        ("retype", [{"type": "conv", "filters": 8, "size": 5}, "fc"]),
        ("retype", [{"type": "conv", "filters": 8, "size": 5}, "relu"]),
    ])
    assert to_nin == {"type": "nin", "filters": 8, "size": 5, "pad": 2}
    assert to_fc == {"type": "fc", "units": 10}
    assert to_relu == {"type": "relu"}
    for layer in (to_nin, to_fc):
        validate([layer, {"type": "fc", "units": 10}])
