"""Who may change the run: every command needs the owner's token (server/access.py); viewing and
classifying are open."""

from __future__ import annotations

import io
import re
import time

import httpx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from hostile import PROPERTY, foreign_origins, misplaced, not_the_owner, owner_routes
from convscope.access import COOKIE, token_matches
from support import TIMEOUT

# a body per command that would change the run if it were carried out; others get {}
CHANGES = {"/api/run/hyperparams": {"lr": 0.5, "batch_size": 64}, "/api/run/model": {"name": "lenet"},
           "/api/run/probe": {"index": 1}}


def mutating_routes(app) -> list[tuple[str, str]]:
    """Every route that may change something (tests/hostile.py), path parameters filled with 0."""
    return [(method, re.sub(r"\{[^}]+\}", "0", path)) for method, path in owner_routes(app)]


def fingerprint(run: dict) -> dict:
    """What a command would change: the status, the network, the hyperparameters, the probe image,
    the run's id where the server has one (a reset also sets the step back)."""
    return {key: run.get(key) for key in ("status", "model", "config", "probe", "run_id")}


def assert_refused_and_unchanged(live, before: dict, response: httpx.Response, codes: tuple[int, ...]) -> None:
    request = f"{response.request.method} {response.request.url.path} {dict(response.request.headers)}"
    assert response.status_code in codes, (request, response.status_code, response.text)
    after = live.run()
    assert fingerprint(after) == fingerprint(before) and after["step"] >= before["step"], request


def test_every_command_is_refused_without_the_token_and_changes_nothing(live):
    routes = mutating_routes(live.app)
    assert ("POST", "/api/run/pause") in routes and ("PATCH", "/api/run/hyperparams") in routes
    forged = httpx.Client(base_url=live.url, cookies={COOKIE: "not-the-token"})
    for method, path in routes:
        r = live.anonymous.request(method, path, json={})
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert "owner" in r.json()["detail"] and r.headers["www-authenticate"] == "Bearer"
        wrong = live.anonymous.request(method, path, json={}, headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 403, (method, path, wrong.status_code)
        cookie = forged.request(method, path, json={})
        assert cookie.status_code == 403, (method, path, cookie.status_code)
    forged.close()
    assert live.run()["status"] == "training"


def test_the_owner_controls_the_run_with_the_bearer_header_or_the_cookie(live):
    assert live.http.get("/api/session").json()["owner"] is True
    assert live.http.post("/api/run/pause").json()["ok"] is True
    with httpx.Client(base_url=live.url, cookies={COOKIE: live.token}) as browser:
        assert browser.get("/api/session").json()["owner"] is True
        assert browser.post("/api/run/resume").json()["run"]["status"] == "training"


def test_viewing_and_classifying_are_open(live):
    viewer = live.anonymous
    session = viewer.get("/api/session").json()
    assert session == {"owner": False, "message": "view only: the owner controls this run"}
    for path in ("/", "/api/run", "/api/health", "/api/models", "/api/images/test/0.png", "/learn/conv"):
        assert viewer.get(path).status_code == 200, path
    summary = viewer.post("/api/models/summary", json={"spec": [{"type": "fc", "units": 10}]})
    assert summary.status_code == 200 and summary.json()["params"] == 3 * 32 * 32 * 10 + 10, summary.text
    mirror, deadline = live.app.state.mirror, time.monotonic() + TIMEOUT
    while mirror.weights is None or mirror.weights.spec != mirror.spec:  # the live weights, about 1 s old
        assert time.monotonic() < deadline, "the live weights never reached the server"
        time.sleep(0.1)
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(buffer, "PNG")
    r = viewer.post("/api/classify", files={"file": ("x.png", buffer.getvalue())})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "convnetjs" and len(body["probabilities"]) == 10
    assert abs(sum(body["probabilities"]) - 1) < 1e-5 and body["top"][0]["p"] == max(body["probabilities"])


def test_the_owner_address_sets_an_httponly_strict_cookie_and_redirects_to_the_clean_address(live):
    with httpx.Client(base_url=live.url) as browser:
        r = browser.get(f"/?token={live.token}")
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = r.headers["set-cookie"].lower()
        assert f"{COOKIE}={live.token}".lower() in cookie and "httponly" in cookie and "samesite=strict" in cookie
        assert browser.get("/api/session").json()["owner"] is True
    with httpx.Client(base_url=live.url) as stranger:
        r = stranger.get("/?token=guess")
        assert r.status_code == 200 and "set-cookie" not in r.headers  # a wrong token: view only
        assert stranger.get("/api/session").json()["owner"] is False


def test_token_comparison():
    assert token_matches("abc", "abc")
    assert not token_matches("abd", "abc") and not token_matches("", "abc") and not token_matches(None, "abc")
    assert not token_matches("abc", None)


def test_a_page_of_another_origin_cannot_command_even_with_the_cookie(live):
    with httpx.Client(base_url=live.url, cookies={COOKIE: live.token}) as browser:
        port = live.url.rsplit(":", 1)[1]
        for origin in ("http://evil.example", f"http://127.0.0.1:{int(port) + 1}"):
            r = browser.post("/api/run/pause", headers={"Origin": origin})
            assert r.status_code == 403 and "another site" in r.json()["detail"], origin
        assert live.run()["status"] == "training"
        assert browser.get("/api/session", headers={"Origin": live.url}).json()["owner"] is True


def test_the_token_where_it_does_not_count_commands_nothing(live):
    """The right token under another scheme, cookie or header, or in the query string: 401."""
    for method, path in mutating_routes(live.app):
        for request in misplaced(live.token):
            before = live.run()
            r = live.anonymous.request(method, path, json=CHANGES.get(path, {}), **request)
            assert_refused_and_unchanged(live, before, r, (401,))


@settings(PROPERTY, max_examples=150)
@given(data=st.data())
def test_no_credential_but_the_owners_token_ever_commands(live, data):
    """Missing, wrong, prefixed, suffixed, mistyped tokens, as bearer or cookie: every command is
    refused with 401 or 403 and the run stays as it was."""
    method, path = data.draw(st.sampled_from(mutating_routes(live.app)), label="route")
    request = data.draw(not_the_owner(live.token), label="request")
    before = live.run()
    r = live.anonymous.request(method, path, json=CHANGES.get(path, {}), **request)
    assert_refused_and_unchanged(live, before, r, (401, 403))


@settings(PROPERTY, max_examples=60)
@given(data=st.data())
def test_no_page_of_another_origin_ever_commands_even_with_the_token(live, data):
    """The owner's cookie or bearer token sent by a page of another origin (tests/hostile.py): 403."""
    method, path = data.draw(st.sampled_from(mutating_routes(live.app)), label="route")
    origin = data.draw(foreign_origins(live.url.removeprefix("http://")), label="origin")
    credential = data.draw(st.sampled_from([{"Cookie": f"{COOKIE}={live.token}"},
                                            {"Authorization": f"Bearer {live.token}"}]), label="credential")
    before = live.run()
    r = live.anonymous.request(method, path, json=CHANGES.get(path, {}), headers={**credential, "Origin": origin})
    assert_refused_and_unchanged(live, before, r, (403,))
