"""The wire format: probe frames round-trip."""

from __future__ import annotations

import pytest

from convscope.protocol import Blob, ProbeHeader, ProbeSource, decode_probe, encode_probe


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
