"""Real-browser end-to-end tests: the real `convscope serve` as a subprocess on a free port,
training a tiny image-folder dataset, driven by Debian's Chromium through Playwright.

    python -m pytest tests/browser -q          # ~1 minute on 2 cores

Skipped, with the reason, when the playwright package or /usr/bin/chromium is missing or Chromium
does not start (`apt-get install -y chromium`; never `playwright install`); under CI (CI=true) that
is an error instead. CONVSCOPE_CHROMIUM picks another binary.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from support import unavailable

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CONVSCOPE_CHROMIUM", "/usr/bin/chromium"))
INSTALL_CHROMIUM = "apt-get install chromium" + (", or point CONVSCOPE_CHROMIUM at a Chromium binary"
                                                  if "CONVSCOPE_CHROMIUM" in os.environ else "")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 # a page whose response a test rewrote (route.fulfill) has no address, so counts as
                 # public, and these checks would then block its websocket to 127.0.0.1
                 "--disable-features=LocalNetworkAccessChecks"]
VIEWPORT = {"width": 1366, "height": 900}
# a phone as a classroom's viewers hold it (an iPhone 12-15's CSS pixels), touch and all
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TRAIN_PER_CLASS, TEST_PER_CLASS = 24, 4
ENDLESS, BATCH = 100000.0, 32  # epochs and batch size the tests train with
START_TIMEOUT = 120.0  # seconds for the server to load torch, spawn its worker and start training


def write_tiny_dataset(root: Path, seed: int = 0) -> Path:
    """train/<class>/*.png and test/<class>/*.png: each class a colour and a stripe direction,
    with noise, so that a network learns something in a few steps and its maps are not flat."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32]
    for c, name in enumerate(CLASSES):
        colour = rng.integers(40, 216, 3)
        angle = np.pi * c / len(CLASSES)
        stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) / 2.0)
        for split, count in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                noise = rng.normal(0, 25, (32, 32, 3))
                pixels = colour + 60 * stripes[..., None] * rng.uniform(0.5, 1.0) + noise
                Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / f"{i}.png")
    return root


def write_tiny_idx_dataset(root: Path, seed: int = 0) -> Path:
    """The four IDX files of a tiny MNIST-like set (1x28x28, white on black, classes "0".."9"):
    each class a bar at its own angle through the centre, with noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28] - 13.5
    root.mkdir(parents=True, exist_ok=True)

    def split(per_class: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)
        out = np.empty((len(labels), 28, 28), np.uint8)
        for i, label in enumerate(labels):
            angle = np.pi * label / 10 + rng.normal(0, 0.05)
            distance = np.abs(xx * np.sin(angle) - yy * np.cos(angle))  # from the bar's axis
            bar = (distance < 2.0) & (np.hypot(xx, yy) < 11)
            out[i] = (255 * bar + rng.normal(0, 20, (28, 28))).clip(0, 255)
        return out, labels

    def write(name: str, array: np.ndarray) -> None:
        header = bytes((0, 0, 0x08, array.ndim)) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
        (root / name).write_bytes(header + array.tobytes())

    for prefix, per_class in (("train", TRAIN_PER_CLASS), ("t10k", TEST_PER_CLASS)):
        images, labels = split(per_class)
        write(f"{prefix}-images-idx3-ubyte", images)
        write(f"{prefix}-labels-idx1-ubyte", labels)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, method: str = "GET", body: dict | None = None,
             token: str | None = None) -> tuple[int, dict]:
    """(status, JSON body) for one request, as the owner when given the token; 0 and {} when
    nothing answers."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, {}


class LiveServer:
    """A running `convscope serve`: its base URL, its owner's token, and REST helpers for arranging
    tests (as the owner)."""

    def __init__(self, url: str, process: subprocess.Popen, log: Path, token: str) -> None:
        self.url, self.process, self.log, self.token = url, process, log, token

    def api(self, path: str, method: str = "GET", body: dict | None = None) -> tuple[int, dict]:
        return get_json(self.url + path, method, body, token=self.token)

    def run(self) -> dict:
        return self.api("/api/run")[1]

    def ensure_training(self, model: str = "convnetjs") -> None:
        """Put the shared run back to training `model` for good, whatever an earlier test left.

        A model switch brings the preset's own recipe (10 epochs: seconds on the tiny set), so the
        run is made endless again, with small batches for several steps per epoch."""
        if self.run().get("model") != model:
            self.api("/api/run/model", "POST", {"name": model})
        config = self.run().get("config", {})
        if config.get("epochs") != ENDLESS or config.get("batch_size") != BATCH:
            self.api("/api/run/hyperparams", "PATCH", {"epochs": ENDLESS, "batch_size": BATCH})
        if self.run().get("status") == "paused":
            self.api("/api/run/resume", "POST")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@contextmanager
def serve(tmp_path_factory, data: Path, *extra: str, ready: str = "training") -> Iterator[LiveServer]:
    """`convscope serve --data DATA` on a free port with one CPU thread, until its run's status is
    `ready` (for "training": and it has taken a step); stopped afterwards."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "CONVSCOPE_CACHE": str(tmp_path_factory.mktemp("cache")),
           "CONVSCOPE_RUNS_DIR": str(tmp_path_factory.mktemp("runs")),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
           # every test comes from 127.0.0.1: no rate limits (tests/server/test_limits.py tests them)
           "CONVSCOPE_CLASSIFY_BURST": "10000", "CONVSCOPE_COMMANDS_BURST": "10000"}
    token = secrets.token_urlsafe(16)
    command = [sys.executable, "-m", "convscope", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--data", str(data), "--device", "cpu", "--no-browser", f"--token={token}", *extra]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", process, log, token)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"convscope serve exited with {process.returncode}:\n{server.output()}")
            status, run = server.api("/api/run")
            if status == 200 and run.get("status") == ready and (ready != "training" or run.get("step", 0) > 0):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"the server's run was not {ready} within {START_TIMEOUT:.0f} s "
                            f"(last /api/run: {status} {run.get('status')}):\n{server.output()}")
            time.sleep(0.25)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    """The server most tests share: convnetjs on the tiny dataset, endless, small batches."""
    data = write_tiny_dataset(tmp_path_factory.mktemp("tiny-images"))
    with serve(tmp_path_factory, data, "--model", "convnetjs", "--epochs", str(ENDLESS)) as server:
        server.ensure_training()
        yield server


@pytest.fixture(scope="module")
def idx_server(tmp_path_factory) -> Iterator[LiveServer]:
    """convnetjs, endless, on a tiny 1x28x28 IDX dataset (MNIST's form); for one test module."""
    data = write_tiny_idx_dataset(tmp_path_factory.mktemp("tiny-idx"))
    with serve(tmp_path_factory, data, "--model", "convnetjs", "--epochs", str(ENDLESS)) as server:
        server.ensure_training()
        yield server


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed", "pip install -e '.[test]'")
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"{CHROMIUM} is missing", INSTALL_CHROMIUM)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        except Error as e:
            unavailable(f"{CHROMIUM} did not start ({e.message.splitlines()[0]})", INSTALL_CHROMIUM)
        yield browser
        browser.close()


class Page:
    """A Playwright page on the live server, with what went wrong in its console collected."""

    def __init__(self, page, server: LiveServer) -> None:
        self.page, self.server = page, server
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def state(self, expression: str):
        """Evaluate a JS expression with `store` bound to the page's live state."""
        return self.page.evaluate(f"() => {{ const store = window.convscope.store; return {expression}; }}")

    def wait_for(self, expression: str, timeout: float = 30.0) -> None:
        """Wait until a JS expression over `store` is truthy."""
        self.page.wait_for_function(
            f"() => {{ const c = window.convscope; if (!c) return false; const store = c.store; return {expression}; }}",
            timeout=timeout * 1000)


def open_page(browser, server: LiveServer, route=None, owner: bool = True,
              phone: bool = False) -> tuple[Any, Page]:
    """A fresh browser context on `server`'s page, connected; `route` may rewrite the page's response.
    As the owner, it opens the address with ?token=, as `convscope serve` prints it (the server
    sets the cookie and redirects to the clean address); else as a viewer. On a `phone` (PHONE), else
    at a laptop's VIEWPORT."""
    context = browser.new_context(**PHONE) if phone else browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    wrapped = Page(tab, server)
    if route is not None:
        tab.route(server.url + "/", route)
    tab.goto(server.url + (f"/?token={server.token}" if owner else "/"))
    wrapped.wait_for("store.connection.state === 'open' && store.run !== null")
    return context, wrapped


@pytest.fixture(scope="session")
def start_server(tmp_path_factory):
    """`with start_server(data, *args, ready="training") as server:` another server of its own."""
    return lambda data, *extra, ready="training": serve(tmp_path_factory, data, *extra, ready=ready)


@pytest.fixture(scope="session")
def new_page(browser):
    """`context, page = new_page(server, route=None, owner=True, phone=False)`: a page on any server
    (close the context)."""
    return lambda server, route=None, owner=True, phone=False: open_page(browser, server, route, owner, phone)


@pytest.fixture
def page(browser, live_server) -> Iterator[Page]:
    if live_server.process.poll() is not None:
        pytest.fail(f"the server died:\n{live_server.output()}")
    live_server.ensure_training()
    context, wrapped = open_page(browser, live_server)
    yield wrapped
    context.close()
