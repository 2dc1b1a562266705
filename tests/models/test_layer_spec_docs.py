"""docs/layer-spec.md documents every layer type and field, and its JSON examples parse."""

import json
import re
from pathlib import Path

import pytest

from convscope.models.spec import FIELDS

DOC = (Path(__file__).parents[2] / "docs" / "layer-spec.md").read_text()
HEADINGS = re.findall(r"^### (.+)$", DOC, flags=re.M)


@pytest.mark.parametrize("kind", FIELDS)
def test_every_type_and_field_is_documented(kind):
    section = next(h for h in HEADINGS if f"`{kind}`" in h)
    body = DOC.split(f"### {section}")[1].split("\n### ")[0]
    assert all(f"`{field}`" in body for field in FIELDS[kind]), kind
    assert f'"type": "{kind}"' in body  # an example


def test_examples_are_valid_json():
    for block in re.findall(r"```json\n(.*?)```", DOC, flags=re.S):
        json.loads(block)
