"""The teaching routes through the real app, in-process: POST /api/cost, GET /api/run/model, the
pattern in summaries, the editor's layer types (GET /api/layers), and the /learn pages (strict-CSP
friendly: no inline script or style).

The app runs without its lifespan (no worker); the tests give it the mirror it would have built."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from convscope.app import create_app
from convscope.mirror import RunMirror
from convscope.models.layers import TYPES
from convscope.protocol import ModelChanged, RunState
from convscope.summary import preset_summary


@pytest.fixture
def app():
    app = create_app()
    app.state.mirror = RunMirror(RunState(status="loading", model="lenet", config={}), [])
    return app


class Client:
    """httpx straight into the ASGI app: no server, and no lifespan, so no worker."""

    def __init__(self, app) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                return await client.request(method, url, **kwargs)
        return asyncio.run(send())

    def get(self, url: str, **kwargs) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@pytest.fixture
def client(app):
    return Client(app)


def test_cost_lab_googlenet_example(client):
    reply = client.post("/api/cost", json={"lab": "bottleneck", "channels": 128, "height": 28, "width": 28,
                                           "filters": 64, "size": 5, "reduce": 32})
    assert reply.status_code == 200
    direct, reduced = reply.json()["sides"]
    assert direct["macs"] == 160_563_200 and reduced["macs"] == 43_352_064
    assert [row["macs"] for row in reduced["layers"]] == [0, 3_211_264, 0, 40_140_800, 0]
    assert reduced["spec"][0] == {"type": "input", "channels": 128, "height": 28, "width": 28}


@pytest.mark.parametrize("body, words", [
    ({"lab": "small-filters", "channels": 8, "height": 8, "width": 8, "filters": 8, "size": 4}, "size must be odd"),
    ({"lab": "bottleneck", "channels": 8, "height": 8, "width": 8, "filters": 8, "size": 3}, "reduce"),
    ({"lab": "fc-vs-conv", "channels": "3", "height": 8, "width": 8, "filters": 8, "size": 3}, "channels"),
    ({"lab": "fc-vs-conv", "channels": 0, "height": 8, "width": 8, "filters": 8, "size": 3}, "channels"),
    ({"lab": "pooling", "channels": 3, "height": 8, "width": 8, "filters": 8, "size": 3}, "lab"),
])
def test_cost_lab_refuses_bad_setups_with_a_reason(client, body, words):
    reply = client.post("/api/cost", json=body)
    assert reply.status_code == 422 and words in reply.json()["detail"]


def test_the_editor_gets_every_layer_type_and_field(client):
    types = client.get("/api/layers").json()
    assert list(types) == list(TYPES)
    for name, kind in TYPES.items():
        assert list(types[name]["fields"]) == list(kind.fields) and types[name]["about"] == kind.about
    assert types["pool"]["fields"]["stride"] == {"kind": "int", "required": False, "default": None, "choices": None,
                                                 "same_as": "size"}
    assert types["fc"]["fields"]["units"]["required"] and types["fc"]["starter"] == {"type": "fc", "units": 10}


def test_summaries_carry_the_pattern(client):
    reply = client.post("/api/models/summary", json={"spec": preset_summary("convnetjs").spec})
    assert reply.json()["pattern"]["text"] == "INPUT - [(CONV-RELU)*1 - POOL]*3 - FC - SOFTMAX"
    resnet = client.get("/api/models/resnet-mini/summary").json()["pattern"]
    assert resnet["fits"] is False and resnet["why"][0]["path"] == [4]


def test_the_live_network_is_readable_for_the_editor(app, client):
    assert client.get("/api/run/model").status_code == 409  # nothing built yet
    lenet = preset_summary("lenet")
    app.state.mirror.apply(ModelChanged(name="lenet", spec=lenet.spec, layers=lenet.layers, run_id="20261124-000000-0000"))
    reply = client.get("/api/run/model").json()
    assert (reply["name"], reply["spec"], reply["params"]) == ("lenet", lenet.spec, lenet.params)
    assert reply["pattern"]["fits"] is True


@pytest.mark.parametrize("topic, module", [("conv", "conv-page.js"), ("pool", "pool-page.js"),
                                           ("cost", "cost-page.js"), ("slide", "slide-page.js")])
def test_learn_pages(client, topic, module):
    reply = client.get(f"/learn/{topic}")
    assert reply.status_code == 200
    html = reply.text
    assert f'<script type="module" src="/static/js/teach/{module}"></script>' in html
    assert f'href="/learn/{topic}" aria-current="page"' in html
    # a strict CSP (script-src 'self'; style-src 'self') allows no inline code or styles
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html and "<style" not in html
    assert not re.search(r"\son[a-z]+=", html)
    assert client.get(f"/static/js/teach/{module}").status_code == 200


def test_unknown_lesson_is_a_404_that_lists_the_pages(client):
    reply = client.get("/learn/attention")
    assert reply.status_code == 404 and "/learn/conv" in reply.text
