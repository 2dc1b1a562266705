"""The editor's layer helpers (static/js/teach/layers.js, run under node) with the server's layer types."""

from __future__ import annotations

import json

from convscope.models import PRESETS, validate
from convscope.routes.layers import layer_types

LAYERS_JS = "static/js/teach/layers.js"
TYPES = {name: info.model_dump() for name, info in layer_types().items()}  # as GET /api/layers sends them


def test_compact_specs_validate_to_the_same_network(run_js):
    normalised = {name: validate(p.spec) for name, p in PRESETS.items()}
    results = run_js(LAYERS_JS, [("compact", [layer, TYPES]) for spec in normalised.values() for layer in spec])
    at = 0
    for name, spec in normalised.items():
        compacted = results[at:at + len(spec)]
        at += len(spec)
        assert validate(compacted) == spec, name
        assert len(json.dumps(compacted)) < len(json.dumps(spec)), name  # defaults are dropped
    pool, strided = run_js(LAYERS_JS, [
        ("compact", [{"type": "pool", "mode": "max", "size": 3, "stride": 3, "pad": 0}, TYPES]),
        ("compact", [{"type": "pool", "mode": "avg", "size": 3, "stride": 2, "pad": 0}, TYPES])])
    assert pool == {"type": "pool", "size": 3}
    assert strided == {"type": "pool", "mode": "avg", "size": 3, "stride": 2}


def test_retype_keeps_shared_fields_and_fills_required_ones(run_js):
    to_nin, to_fc, to_relu, to_residual = run_js(LAYERS_JS, [
        ("retype", [{"type": "conv", "filters": 8, "size": 5, "pad": 2, "bias": False}, "nin", TYPES]),
        ("retype", [{"type": "conv", "filters": 8, "size": 5}, "fc", TYPES]),
        ("retype", [{"type": "conv", "filters": 8, "size": 5}, "relu", TYPES]),
        ("retype", [{"type": "relu"}, "residual", TYPES]),
    ])
    assert to_nin == {"type": "nin", "filters": 8, "size": 5, "pad": 2}
    assert to_fc == {"type": "fc", "units": 10}
    assert to_relu == {"type": "relu"}
    assert to_residual == TYPES["residual"]["starter"]
    for layer in (to_nin, to_fc, to_residual):
        validate([layer, {"type": "fc", "units": 10}])
