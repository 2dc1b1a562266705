"""The wire format: probe frames round-trip, and docs/protocol.md documents every message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.protocol import (MESSAGES, PROTOCOL_VERSION, Blob, Hyperparams, ProbeHeader, ProbeSource,
                             decode_probe, encode_probe)

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def test_a_probe_frame_round_trips():
    blob = Blob(layer=-1, kind="input", count=1, height=2, width=2, channels=3, min=0, max=255,
                offset=0, length=12)
    header = ProbeHeader(step=3, image=ProbeSource(source="test", index=4), blobs=[blob])
    frame = encode_probe(header, bytes(range(12)))
    assert frame[:4] == b"CSP1" and int.from_bytes(frame[4:8], "little") == len(header.to_json())
    decoded, payload = decode_probe(frame)
    assert decoded == header and bytes(payload) == bytes(range(12))
    with pytest.raises(ValueError):
        decode_probe(b"PNG!" + frame[4:])


def test_every_message_and_rest_route_is_documented():
    doc = DOC.read_text()
    assert f"PROTOCOL_VERSION = {PROTOCOL_VERSION}" in doc
    for message in MESSAGES:
        kind = message.model_fields["type"].default
        assert re.search(rf'"type": ?"{kind}"', doc), f"docs/protocol.md has no example of {kind!r}"
    for field in Hyperparams.model_fields:
        assert field in doc, f"docs/protocol.md does not mention hyperparameter {field!r}"


def test_every_route_is_documented():
    from server.app import create_app

    doc = DOC.read_text()
    for path, methods in create_app().openapi()["paths"].items():
        for method in methods:
            assert f"{method.upper()} {path}" in doc or f"{method.upper()}  {path}" in doc, \
                f"docs/protocol.md does not document {method.upper()} {path}"
