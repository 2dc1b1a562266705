"""Security headers on every response, no CORS, and the websocket's origin check (server/security.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from hostile import PROPERTY, foreign_origins
from convscope.security import host_name, is_loopback, same_origin


def test_every_response_carries_the_security_headers(live):
    for path in ("/", "/api/run", "/static/js/main.js", "/api/images/test/0.png", "/learn/conv", "/api/nothing"):
        r = live.anonymous.get(path)
        csp = r.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY", path
        assert r.headers["referrer-policy"] == "same-origin"
    docs = live.anonymous.get("/docs")  # Swagger UI needs its inline script and CDN
    assert "content-security-policy" not in docs.headers and docs.headers["x-content-type-options"] == "nosniff"


def test_no_cors_for_other_sites(live):
    evil = {"Origin": "http://evil.example"}
    assert "access-control-allow-origin" not in live.anonymous.get("/api/run", headers=evil).headers
    preflight = live.anonymous.options("/api/run/pause", headers={**evil, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_a_page_of_another_site_cannot_open_the_websocket(live):
    host = live.url.removeprefix("http://")
    for origin in ("http://evil.example", f"http://{host}.evil.example", "null", f"https://evil.example:{host}"):
        with pytest.raises(InvalidStatus) as refused:
            connect(live.ws_url, origin=origin, open_timeout=10)
        assert refused.value.response.status_code == 403, origin
    for origin in (f"http://{host}", None):  # the page itself, and scripts (no Origin)
        with connect(live.ws_url, origin=origin, open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"


@settings(PROPERTY, max_examples=100)
@given(data=st.data())
def test_no_page_of_another_origin_ever_opens_the_websocket(live, data):
    """Other hosts, other ports, other schemes, "null", look-alikes (tests/hostile.py): always 403."""
    own = live.url.removeprefix("http://")
    origin = data.draw(foreign_origins(own), label="origin")
    with pytest.raises(InvalidStatus) as refused:
        connect(live.ws_url, origin=origin, open_timeout=10)
    assert refused.value.response.status_code == 403


def test_same_origin():
    assert same_origin("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert same_origin("http://Example.org", "example.org") and same_origin(None, "x")
    assert not same_origin("http://127.0.0.1:8001", "127.0.0.1:8000")
    assert not same_origin("null", "127.0.0.1:8000") and not same_origin("http://a", None)
    assert not same_origin("file://", "127.0.0.1:8000")


def test_a_rebound_host_name_is_refused(live):
    """DNS rebinding: a site whose name resolves to 127.0.0.1 reaches the server with its own Host."""
    port = live.url.rsplit(":", 1)[1]
    for host in (f"evil.example:{port}", f"127.0.0.1.evil.example:{port}", ""):
        r = live.anonymous.get("/api/run", headers={"Host": host})
        assert r.status_code == 400 and "localhost only" in r.json()["detail"], host
        with pytest.raises(InvalidStatus):
            connect(live.ws_url, additional_headers={"Host": host}, origin=f"http://{host}", open_timeout=10)
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"LOCALHOST:{port}"):
        assert live.anonymous.get("/api/run", headers={"Host": host}).status_code == 200, host


def test_host_names():
    assert [host_name(h) for h in ("127.0.0.1:8000", "[::1]:80", "::1", "evil.example:80", "localhost")] == \
        ["127.0.0.1", "::1", "::1", "evil.example", "localhost"]
    assert is_loopback("127.0.0.2") and is_loopback("LOCALHOST") and not is_loopback("127.0.0.1.evil.example")
