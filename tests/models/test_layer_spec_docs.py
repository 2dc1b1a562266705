"""docs/layer-spec.md documents every layer type and field and no other, and its JSON examples parse."""

import json
import re
from pathlib import Path

import pytest

from convscope.models.layers import TYPES

DOC = (Path(__file__).parents[2] / "docs" / "layer-spec.md").read_text()
LAYERS = DOC.split("\n## Layers\n")[1].split("\n## ")[0]
HEADINGS = re.findall(r"^### (.+)$", LAYERS, flags=re.M)


@pytest.mark.parametrize("kind", TYPES)
def test_every_type_and_field_is_documented(kind):
    section = next((h for h in HEADINGS if f"`{kind}`" in h), None)
    assert section, f"docs/layer-spec.md has no section for the layer type {kind!r}"
    body = LAYERS.split(f"### {section}")[1].split("\n### ")[0]
    assert all(f"`{field}`" in body for field in TYPES[kind].fields), kind
    assert f'"type": "{kind}"' in body  # an example


def test_only_types_that_exist_are_documented():
    documented = [name for heading in HEADINGS for name in re.findall(r"`(\w+)`", heading)]
    assert sorted(documented) == sorted(TYPES)


def test_examples_are_valid_json():
    for block in re.findall(r"```json\n(.*?)```", DOC, flags=re.S):
        json.loads(block)
