"""The live page in Firefox: Debian's firefox-esr, driven over WebDriver BiDi (built into Firefox),
since Playwright drives only its own patched Firefox builds. One smoke test: the page connects,
draws its charts and layer canvases, and logs nothing.

Skipped when firefox-esr is missing (`apt-get install -y firefox-esr`); CONVSCOPE_FIREFOX picks
another binary.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

FIREFOX = os.environ.get("CONVSCOPE_FIREFOX") or shutil.which("firefox-esr") or shutil.which("firefox")

STATE = """(() => {
  const store = window.convscope && window.convscope.store;
  if (!store) return null;
  const chart = document.querySelector('#chart-loss canvas');
  const act = document.querySelector('#network article.layer[data-type=conv] figure[data-kind=activation] canvas.blob-canvas');
  let distinct = 0;
  if (act && act.width) {
    const d = act.getContext('2d').getImageData(0, 0, act.width, act.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    distinct = seen.size;
  }
  return JSON.stringify({connection: store.connection.state, points: store.train.length,
    frame: store.frame !== null, chartWidth: chart ? chart.width : 0, distinct,
    layers: document.querySelectorAll('#network article.layer').length});
})()"""


class Bidi:
    """Just enough of a WebDriver BiDi client: commands answered by id, log entries collected."""

    def __init__(self, ws) -> None:
        self.ws, self.next_id, self.logs = ws, 0, []

    async def call(self, method: str, params: dict) -> dict:
        self.next_id += 1
        mine = self.next_id
        await self.ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            message = json.loads(await self.ws.recv())
            if message.get("method") == "log.entryAdded":
                self.logs.append(message["params"])
            elif message.get("id") == mine:
                if message.get("type") == "error":
                    raise RuntimeError(f"{method}: {message.get('error')}: {message.get('message')}")
                return message["result"]


async def drive(url: str, port: int, deadline: float) -> tuple[dict, list[dict]]:
    websockets = pytest.importorskip("websockets")
    for _ in range(200):
        try:
            ws = await websockets.connect(f"ws://127.0.0.1:{port}/session", max_size=None)
            break
        except OSError:
            await asyncio.sleep(0.1)
    else:
        pytest.fail("firefox did not open its WebDriver BiDi port")
    async with ws:
        bidi = Bidi(ws)
        await bidi.call("session.new", {"capabilities": {}})
        await bidi.call("session.subscribe", {"events": ["log.entryAdded"]})
        context = (await bidi.call("browsingContext.getTree", {}))["contexts"][0]["context"]
        await bidi.call("browsingContext.setViewport", {"context": context, "viewport": {"width": 1366, "height": 900}})
        await bidi.call("browsingContext.navigate", {"context": context, "url": url, "wait": "complete"})
        state: dict = {}
        while time.monotonic() < deadline:
            result = await bidi.call("script.evaluate", {"expression": STATE, "target": {"context": context},
                                                         "awaitPromise": False})
            value = result.get("result", {}).get("value")
            state = json.loads(value) if value else {}
            if state.get("frame") and state.get("points", 0) > 3 and state.get("distinct", 0) > 8:
                break
            await asyncio.sleep(0.5)
        return state, bidi.logs


@pytest.mark.skipif(FIREFOX is None, reason="firefox-esr is not installed (apt-get install -y firefox-esr)")
def test_page_works_in_firefox(live_server, tmp_path):
    live_server.ensure_training()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    profile = Path(tempfile.mkdtemp(dir=tmp_path))
    firefox = subprocess.Popen([FIREFOX, "--headless", "--remote-debugging-port", str(port), "--profile", str(profile),
                                "--no-remote"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # a thread of its own: Playwright's sync API keeps an event loop running in this one
        with ThreadPoolExecutor(1) as pool:
            state, logs = pool.submit(asyncio.run, drive(live_server.url + "/", port,
                                                         time.monotonic() + 60)).result()
    finally:
        firefox.terminate()
        try:
            firefox.wait(timeout=10)
        except subprocess.TimeoutExpired:
            firefox.kill()
            firefox.wait()
    assert state.get("connection") == "open", state
    assert state["points"] > 3 and state["frame"] and state["chartWidth"] > 0, state
    assert state["distinct"] > 8, f"the first conv layer's activations are blank in Firefox: {state}"
    assert state["layers"] > 3
    problems = [f"{entry.get('level')}: {entry.get('text')}" for entry in logs if entry.get("level") in ("error", "warn")]
    assert problems == []
