"""The live page in Firefox: Debian's firefox-esr, driven over WebDriver BiDi (built into Firefox),
since Playwright drives only its own patched Firefox builds. One smoke test: the page connects,
draws its charts and layer canvases, and logs nothing.

Skipped when firefox-esr is missing or does not start (`apt-get install -y firefox-esr`); under CI
(CI=true) that is an error instead. CONVSCOPE_FIREFOX picks another binary.
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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import websockets

from support import unavailable

CHOSEN = os.environ.get("CONVSCOPE_FIREFOX")
FIREFOX = shutil.which(CHOSEN) if CHOSEN else shutil.which("firefox-esr") or shutil.which("firefox")
INSTALL_FIREFOX = "apt-get install firefox-esr" + (", or point CONVSCOPE_FIREFOX at a Firefox binary" if CHOSEN else "")
START_TIMEOUT = 30.0  # seconds for Firefox to open its WebDriver BiDi port (a fresh profile, 2 cores)

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


def wait_until_listening(process: subprocess.Popen, port: int, log: Path) -> None:
    """Return once Firefox's WebDriver BiDi port accepts connections; when it exits first or never
    opens the port, it cannot run here."""
    deadline = time.monotonic() + START_TIMEOUT
    while process.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    said = log.read_text(errors="replace").strip().splitlines()[-1:] or ["nothing"]
    how = (f"exited with {process.returncode}" if process.returncode is not None
           else f"did not open its WebDriver BiDi port within {START_TIMEOUT:.0f} s")
    unavailable(f"{FIREFOX} {how} (its last words: {said[0]})", INSTALL_FIREFOX)


async def drive(url: str, port: int, deadline: float) -> tuple[dict, list[dict]]:
    async with websockets.connect(f"ws://127.0.0.1:{port}/session", max_size=None) as ws:
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


@pytest.fixture
def firefox(tmp_path: Path) -> Iterator[int]:
    """A headless Firefox on a fresh profile, listening: its WebDriver BiDi port."""
    if FIREFOX is None:
        unavailable(f"{CHOSEN or 'firefox-esr'} is missing", INSTALL_FIREFOX)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    profile = Path(tempfile.mkdtemp(dir=tmp_path))
    log = tmp_path / "firefox.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([FIREFOX, "--headless", "--remote-debugging-port", str(port), "--profile",
                                    str(profile), "--no-remote"], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_listening(process, port, log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_page_works_in_firefox(firefox, live_server):
    live_server.ensure_training()
    # a thread of its own: Playwright's sync API keeps an event loop running in this one
    with ThreadPoolExecutor(1) as pool:
        state, logs = pool.submit(asyncio.run, drive(live_server.url + "/", firefox, time.monotonic() + 60)).result()
    assert state.get("connection") == "open", state
    assert state["points"] > 3 and state["frame"] and state["chartWidth"] > 0, state
    assert state["distinct"] > 8, f"the first conv layer's activations are blank in Firefox: {state}"
    assert state["layers"] > 3
    problems = [f"{entry.get('level')}: {entry.get('text')}" for entry in logs if entry.get("level") in ("error", "warn")]
    assert problems == []
