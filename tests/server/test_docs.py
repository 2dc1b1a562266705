"""The docs keep up with the code: every message, route and setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

from convscope.app import create_app
from convscope.protocol import MESSAGES, PROTOCOL_VERSION, Hyperparams
from convscope.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_message_is_documented():
    doc = (DOCS / "protocol.md").read_text()
    assert f"PROTOCOL_VERSION = {PROTOCOL_VERSION}" in doc
    for message in MESSAGES:
        kind = message.model_fields["type"].default
        assert re.search(rf'"type": ?"{kind}"', doc), f"docs/protocol.md has no example of {kind!r}"
    for field in Hyperparams.model_fields:
        assert field in doc, f"docs/protocol.md does not mention hyperparameter {field!r}"


def test_every_route_is_documented():
    doc = (DOCS / "protocol.md").read_text()
    for path, methods in create_app().openapi()["paths"].items():
        for method in methods:
            assert f"{method.upper()} {path}" in doc, \
                f"docs/protocol.md does not document {method.upper()} {path}"


def test_every_setting_is_documented():
    doc = (DOCS / "architecture.md").read_text()
    for name in Settings.model_fields:
        assert f"| `{name}` |" in doc, f"docs/architecture.md does not document the setting {name!r}"
