"""load_spec(): a preset name, or a JSON file (a list, or {"layers": [...]}); bad JSON says where."""

import json

import pytest

from convscope.models import PRESETS, SpecError, UnknownModel, load_spec

SPEC = [{"type": "conv", "filters": 4, "size": 3}, {"type": "fc", "units": 10}]


def test_preset_name():
    name, spec = load_spec("lenet")
    assert (name, spec) == ("lenet", PRESETS["lenet"].spec)
    spec.clear()
    assert PRESETS["lenet"].spec  # callers get a copy


def test_list_file(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(SPEC))
    assert load_spec(str(path)) == ("tiny", SPEC)


def test_layers_object_file(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"name": "my net", "layers": SPEC}))
    assert load_spec(path) == ("my net", SPEC)


def test_object_without_layers(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"layer": SPEC}))
    with pytest.raises(SpecError, match=r'expected a list of layers or \{"layers": \[...\]\}'):
        load_spec(path)


def test_bad_json_names_line_and_column(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[\n  {"type": "relu"},\n  {"type": "fc" "units": 10}\n]')
    with pytest.raises(SpecError, match=r"bad\.json: invalid JSON at line 3, column 17: Expecting ','"):
        load_spec(path)


def test_neither_preset_nor_file():
    with pytest.raises(UnknownModel, match="not a preset .*convnetjs.* and not a spec file"):
        load_spec("nope.json")
