"""The editor's layer table (static/js/teach/layers.js, run under node) agrees with the server's spec."""

from __future__ import annotations

import json
import re

from convscope.models import PRESETS, validate
from convscope.models.spec import FIELDS, REQUIRED, _boolean, _factor, _non_negative, _positive, _probability

LAYERS_JS = "static/js/teach/layers.js"
KINDS = {_positive: "int", _non_negative: "int0", _boolean: "bool", _probability: "prob", _factor: "number"}


def expected_kind(check) -> tuple[str, list[str] | None]:
    if check in KINDS:
        return KINDS[check], None
    problem = check("__not_a_choice__") or ""
    if problem.startswith("must be one of"):  # _choice(...): its options are listed in the message
        return "choice", json.loads("[" + re.match(r"must be one of (.*), got", problem).group(1) + "]")
    return {"_layer_list": "layers", "_branch_list": "branches"}[check.__name__], None


def test_every_type_and_field_matches_the_server(run_js):
    (types,) = run_js(LAYERS_JS, [("LAYER_TYPES", [])])
    assert list(types) == list(FIELDS)
    for kind, fields in FIELDS.items():
        assert list(types[kind]) == list(fields), kind
        for name, (check, default) in fields.items():
            field = types[kind][name]
            want_kind, choices = expected_kind(check)
            assert field["kind"] == want_kind, (kind, name)
            assert field.get("choices") == choices, (kind, name)
            if default is REQUIRED:
                assert "default" not in field, (kind, name)
            else:
                assert field["default"] == default, (kind, name)


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
