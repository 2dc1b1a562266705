"""convscope.watch in a real browser: a user's own PyTorch loop (tests/browser/watched_loop.py, a
script of its own, not convscope's trainer) shown on the live page it serves from its process.

Two scripts, each started once for the class of tests that reads it: a Sequential LeNet (1x28x28)
whose script allows control from the page, and a TinyResNet (3x32x32: skip connections, in-place
ReLU) whose script does not. Fixtures from conftest.py (the browser, pages, pixel helpers' pattern).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("watched_loop.py")
START_TIMEOUT = 180.0  # seconds for the script to import torch, build its page and take a step
ADDRESS = re.compile(r"convscope\.watch: .+ is live at (http://\S+)\?token=(\S+)")
COUNT = re.compile(r"^step (\d+) lr (\S+)$", re.M)
VIEW_ONLY = "view only: the script did not allow control from the page"

# counts over a canvas's pixels (as in test_page.py), and a digest of them to tell two drawings apart
PIXEL_STATS = """(selector) => {
  const canvas = document.querySelector(selector);
  if (!canvas || !canvas.width || !canvas.height) return null;
  const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const colours = new Set();
  let coloured = 0, digest = 0;
  for (let i = 0; i < d.length; i += 4) {
    colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    if (Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 40) coloured++;
    digest = (Math.imul(digest, 31) + ((d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3])) | 0;
  }
  return {distinct: colours.size, coloured, digest, width: canvas.width, height: canvas.height};
}"""
COLOUR_PIXELS = """([selector, rgb, tolerance]) => {
  const canvas = document.querySelector(selector);
  if (!canvas || !canvas.width || !canvas.height) return -1;
  const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] > 200 && Math.abs(d[i] - rgb[0]) <= tolerance && Math.abs(d[i + 1] - rgb[1]) <= tolerance
        && Math.abs(d[i + 2] - rgb[2]) <= tolerance) n++;
  }
  return n;
}"""
TRAIN_BLUE = (37, 99, 235)  # charts.js COLORS.train: the smoothed training curve
class Script:
    """The user's script, running: its page's address and owner's token (what conftest's pages need
    of a server), REST helpers as the owner, and the loop's own step counter and learning rate, as
    the script prints them to stdout."""

    def __init__(self, process: subprocess.Popen, log: Path, out: Path) -> None:
        self.process, self.log, self.out = process, log, out
        self.url = self.token = ""

    def api(self, path: str, method: str = "GET", body: dict | None = None) -> tuple[int, dict]:
        """(status, JSON body) of one request with the owner's token; 0 and {} when nothing answers."""
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode() if body is not None else None, method=method,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, {}

    def run(self) -> dict:
        return self.api("/api/run")[1]

    def counted(self) -> tuple[int, float]:
        """The loop's own step and its optimizer's learning rate, as last printed."""
        found = COUNT.findall(self.out.read_text(errors="replace"))
        return (int(found[-1][0]), float(found[-1][1])) if found else (0, float("nan"))

    def steps(self) -> int:
        return self.counted()[0]

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] + "\n" + self.out.read_text(errors="replace")[-300:]

    def alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"the watched script exited with {self.process.returncode}:\n{self.output()}")


FAILED_REQUESTS = "() => performance.getEntriesByType('resource').filter(e => e.responseStatus >= 400).map(e => e.name)"


def problems(page) -> list[str]:
    """What went wrong in the page (its console's errors), with the addresses of the requests that
    failed, which the console does not name."""
    errors = list(page.errors)
    return errors + [f"failed: {url}" for url in page.page.evaluate(FAILED_REQUESTS)] if errors else []


def until(check, what: str, script: Script, timeout: float = 60.0):
    """check()'s first truthy value, polled; a failure saying `what` did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        if (value := check()):
            return value
        script.alive()
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout:.0f} s:\n{script.output()}")
        time.sleep(0.1)


@contextmanager
def watched_script(tmp_path_factory, model: str, control: bool) -> Iterator[Script]:
    """watched_loop.py --model MODEL [--no-]control on a free port, until its run has taken steps;
    terminated (and killed if need be) afterwards."""
    folder = tmp_path_factory.mktemp(f"watched-{model}")
    out, err = folder / "stdout.log", folder / "stderr.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
           "CONVSCOPE_CLASSIFY_BURST": "10000", "CONVSCOPE_COMMANDS_BURST": "10000"}
    command = [sys.executable, str(SCRIPT), "--model", model, "--control" if control else "--no-control",
               "--runs-dir", str(folder / "runs"), "--port", "0"]
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
    script = Script(process, err, out)
    try:
        found = until(lambda: ADDRESS.search(err.read_text(errors="replace")),
                      "the script printed no address", script, START_TIMEOUT)
        script.url, script.token = found.group(1).rstrip("/"), found.group(2)
        until(lambda: script.run().get("step", 0) > 0 and script.steps() > 0,
              "the watched run took no step", script, START_TIMEOUT)
        yield script
    finally:
        process.terminate()  # the script closes its watch on SIGTERM
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def opened(new_page, script: Script) -> Iterator:
    script.alive()
    context, page = new_page(script)  # the owner's address, as the script printed it
    try:
        yield page
    finally:
        context.close()


def layer_names(page) -> list[str]:
    return page.page.locator("#network article.layer .layer-name").all_inner_texts()


def rows(table: list[dict]) -> dict[str, str]:
    """The selectors of the layer view's rows, by the names of their layers in `table`."""
    return {layer["name"]: f"#network article.layer[data-index='{layer['index']}']" for layer in table}


def assert_picture(page, selector: str, at_least: int = 8) -> dict:
    page.page.wait_for_selector(selector, state="visible")
    stats = page.page.evaluate(PIXEL_STATS, selector)
    assert stats is not None and stats["distinct"] > at_least, f"{selector} is (nearly) uniform: {stats}"
    return stats


def assert_layers_drawn(page, script: Script) -> list[dict]:
    """The layer view has a row per top-level layer, named as the server's table names them; every
    row's probe maps are drawn (none left waiting). Returns the table."""
    page.wait_for("store.layers.length > 0 && store.frame !== null")
    table = script.run()["layers"]
    top = [layer["name"] for layer in table if len(layer["path"]) == 1]
    page.page.wait_for_function("n => document.querySelectorAll('#network article.layer').length === n",
                                arg=len(top))
    assert layer_names(page) == top
    # every layer is in the probe: no row still says it waits for its first probe
    page.page.wait_for_function(
        "() => [...document.querySelectorAll('#network .blob-empty')].every(p => p.hidden)", timeout=30_000)
    return table


@pytest.fixture(scope="class")
def lenet(tmp_path_factory) -> Iterator[Script]:
    """The LeNet script, for the tests of one class (it stops before the next class's starts)."""
    with watched_script(tmp_path_factory, "lenet", control=True) as script:
        yield script


@pytest.fixture(scope="class")
def resnet(tmp_path_factory) -> Iterator[Script]:
    with watched_script(tmp_path_factory, "resnet", control=False) as script:
        yield script


class TestLeNetWithControl:
    """A Sequential LeNet on 1x28x28, its script started with control=True."""

    @pytest.fixture
    def script(self, lenet: Script) -> Script:
        return lenet

    @pytest.fixture
    def page(self, new_page, script):
        with opened(new_page, script) as page:
            yield page

    def test_the_network_view_draws_the_models_own_layers(self, page, script):
        table = assert_layers_drawn(page, script)
        names, row = layer_names(page), rows(table).get
        assert names[0] == "0: Conv2d 1→6, 5x5, pad 2" and names[3] == "3: Conv2d 6→16, 5x5"
        assert names[7] == "7: Linear 400→120" and names[-1] == "output: softmax over the classes"
        assert len(names) == 13 and page.state("store.run.source") == "watch"
        assert page.page.inner_text("#stat-model") == "Sequential"  # the model's class, as watch() names it
        first, second = row(names[0]), row(names[3])
        # the probe image is shown on the first row, and both convs' maps and filters are pictures
        assert_picture(page, f"{first} figure[data-kind=input] canvas.blob-canvas")
        for conv in (first, second):
            for kind in ("activation", "activation_grad", "filter"):
                assert_picture(page, f"{conv} figure[data-kind={kind}] canvas.blob-canvas")
        assert_picture(page, f"{row(names[7])} figure[data-kind=activation] canvas.blob-canvas", 4)
        # the output row: a bar per class, named as the script names them
        bars = page.page.locator(f"{row(names[-1])} ol.class-bars li.bar")
        assert bars.count() == 10 and "zero" in bars.first.inner_text()
        assert table[0]["params"] == 156
        # the probe picker offers the script's 8 probe images (a test set under 12 once hung the page)
        assert page.page.locator("#probe-thumbs button.thumb").count() == 8
        assert problems(page) == []

    def test_the_loss_chart_moves(self, page, script):
        page.wait_for("store.train.length > 3")
        before = page.state("store.train.lastX")
        drawn = page.page.evaluate(PIXEL_STATS, "#chart-loss canvas")
        page.wait_for(f"store.train.lastX > {before + 20}")  # the stream keeps coming
        for _ in range(50):  # a new point shows at the next frame the page draws
            now = page.page.evaluate(PIXEL_STATS, "#chart-loss canvas")
            if now["digest"] != drawn["digest"]:
                break
            page.page.wait_for_timeout(200)
        assert now["digest"] != drawn["digest"], "the loss chart was not redrawn as steps came in"
        curve = page.page.evaluate(COLOUR_PIXELS, ["#chart-loss canvas", list(TRAIN_BLUE), 40])
        assert curve > 20, f"the training curve's colour covers only {curve} pixels"
        assert int(page.page.inner_text("#stat-step")) > before
        assert problems(page) == []

    def test_an_upload_gets_class_bars_and_a_gradcam_picture(self, page, script, tmp_path):
        # a learnt model (Adam learns the bars in ~200 steps), so that its verdict can be checked
        until(lambda: script.steps() >= 400, "the script did not reach step 400", script, 120)
        pixels = np.full((84, 84, 3), 20, np.uint8)
        pixels[3 * (2 * 3 + 4):3 * (2 * 3 + 6), 12:72] = 235  # "three": a bar at row 10 of 28
        Image.fromarray(pixels).save(tmp_path / "three.png")
        page.page.locator("#panel-classify").evaluate("p => p.scrollIntoView({block: 'start'})")
        page.page.set_input_files("#classify-file", str(tmp_path / "three.png"))
        page.page.wait_for_selector("#classify-msg[data-state=ok]", timeout=60_000)
        bars = page.page.locator("#classify-bars li.bar")
        assert bars.count() == 10
        top = page.state("store.upload.result.top[0]")
        assert bars.first.locator(".bar-label").inner_text() == top["class"] == "three", top
        assert page.page.inner_text("#classify-msg").startswith("three")
        assert page.state("store.upload.result.gradcam") is not None
        page.page.wait_for_function(
            "() => !document.querySelector('#classify-gradcam-note').textContent.includes('on its way')")
        assert "Grad-CAM for “three”" in page.page.inner_text("#classify-gradcam-note")
        # the model sees in gray: its input is drawn gray, the heat map over it in colour
        plain = assert_picture(page, "#classify-input", 1)
        overlay = assert_picture(page, "#classify-gradcam")
        assert plain["coloured"] == 0 and overlay["coloured"] > 100, (plain, overlay)
        assert problems(page) == []

    def test_pause_and_resume_on_the_page_stop_and_restart_the_loop(self, page, script):
        def shows(status: str) -> None:
            """The status pill says `status` (the page adopts the command's reply, then follows the run)."""
            page.page.wait_for_selector(f"#status-pill[data-status={status}]", timeout=10_000)

        page.page.wait_for_selector("#btn-pause:not([disabled])")
        page.page.click("#btn-pause")
        shows("paused")
        assert page.page.inner_text("#btn-pause") == "Resume"
        time.sleep(0.8)  # the step in flight finishes; the loop then waits in its next log()
        held = script.steps()
        time.sleep(2.0)
        assert script.steps() == held, "the script kept training while paused"
        assert script.run()["status"] == "paused" and script.run()["step"] <= held
        page.page.click("#btn-pause")  # now "Resume"
        until(lambda: script.steps() > held + 5, "the script did not train again after Resume", script)
        shows("training")
        assert page.page.inner_text("#btn-pause") == "Pause"
        page.wait_for(f"store.train.lastX > {held}")
        assert problems(page) == []

    def test_a_learning_rate_set_on_the_page_reaches_the_optimizer(self, page, script):
        page.page.wait_for_selector("#hp-lr:not([disabled])")
        page.page.fill("#hp-lr", "0.0123")
        page.page.press("#hp-lr", "Enter")
        page.page.wait_for_selector("#hyper-msg[data-state=ok], #hyper-msg[data-state=error]")
        said = page.page.inner_text("#hyper-msg")
        assert page.page.get_attribute("#hyper-msg", "data-state") == "ok", said
        page.wait_for("store.run.config.lr === 0.0123")
        assert script.run()["config"]["optimizer"] == "adam"
        assert script.run()["config"]["lr"] == 0.0123
        until(lambda: script.counted()[1] == 0.0123, "the script's optimizer never got lr 0.0123", script)
        assert problems(page) == []

    def test_convscope_only_controls_are_hidden(self, page, script):
        tab = page.page
        page.wait_for("document.body.classList.contains('watched')")
        tab.wait_for_selector("#access:not([hidden])")
        assert tab.text_content("#access").startswith("you own this run")
        for hidden in ("#panel-models", "#panel-editor", "#btn-step", "#btn-reset", "#panel-runs",
                       "#hp-batch_size", "#hp-optimizer", "#hp-epochs"):
            assert tab.locator(hidden).count() == 1 and not tab.is_visible(hidden), f"{hidden} is shown"
        assert tab.is_visible("#btn-pause") and tab.is_visible("#hp-lr") and not tab.is_disabled("#hp-lr")
        assert tab.is_visible("#hp-momentum") and tab.is_visible("#chart-loss") and tab.is_visible("#classify-drop")
        assert problems(page) == []


class TestResNetViewOnly:
    """A TinyResNet on 3x32x32 (skip connections, in-place ReLU), its script started with
    control=False."""

    @pytest.fixture
    def script(self, resnet: Script) -> Script:
        return resnet

    @pytest.fixture
    def page(self, new_page, script):
        with opened(new_page, script) as page:
            yield page

    def test_the_network_view_draws_the_resnets_layers(self, page, script):
        table = assert_layers_drawn(page, script)
        names, row = layer_names(page), rows(table).get
        for name in ("stem: Conv2d 3→8, 3x3, pad 1", "relu: ReLU", "layer1.relu: ReLU",
                     "layer2.shortcut.0: Conv2d 8→16, 1x1, stride 2", "fc: Linear 16→10",
                     "output: softmax over the classes"):
            assert name in names, f"no row {name!r} in {names}"
        stem = row("stem: Conv2d 3→8, 3x3, pad 1")
        assert_picture(page, f"{stem} figure[data-kind=input] canvas.blob-canvas")
        for layer in ("stem: Conv2d 3→8, 3x3, pad 1", "layer1.conv2: Conv2d 8→8, 3x3, pad 1",
                      "layer2.shortcut.0: Conv2d 8→16, 1x1, stride 2", "layer1.bn1: BatchNorm2d 8"):
            for kind in ("activation", "activation_grad"):
                assert_picture(page, f"{row(layer)} figure[data-kind={kind}] canvas.blob-canvas")
        filters = assert_picture(page, f"{stem} figure[data-kind=filter] canvas.blob-canvas")
        assert filters["coloured"] > 0  # RGB weights are drawn in colour
        # the in-place ReLU after bn1 changed a copy: bn1's map keeps its negative values, the ReLU's has none
        index = {layer["name"]: layer["index"] for layer in table}
        ranges = page.page.evaluate("""(layers) => {
          const blobs = window.convscope.store.frame.blobs.filter(b => b.kind === 'activation');
          return layers.map(l => { const b = blobs.find(b => b.layer === l); return b ? [b.min, b.max] : null; });
        }""", [index["layer1.bn1: BatchNorm2d 8"], index["layer1.relu: ReLU"]])
        (bn_min, bn_max), (relu_min, relu_max) = ranges
        assert bn_min < 0 < bn_max and relu_min >= 0 and relu_max > 0, ranges
        assert page.page.locator(f"{row('output: softmax over the classes')} ol.class-bars li.bar").count() == 10
        assert problems(page) == []

    def test_the_page_is_view_only_and_pause_is_refused(self, page, script):
        tab = page.page
        tab.wait_for_selector("#access:not([hidden])")
        assert tab.text_content("#access").startswith(VIEW_ONLY)
        page.wait_for("document.body.classList.contains('view-only') && document.body.classList.contains('watched')")
        assert not tab.is_visible("#btn-pause") and tab.is_disabled("#hp-lr")
        tab.wait_for_function("() => document.querySelector('#hp-lr').value === '0.05'")  # the script's own
        assert tab.is_visible("#chart-loss") and tab.is_visible("#classify-drop")
        status, reply = script.api("/api/session")
        assert status == 200 and reply["owner"] is False
        # even with the owner's token, the script's choice stands
        status, reply = script.api("/api/run/pause", "POST")
        assert reply.get("ok") is False and "view only" in reply.get("message", ""), (status, reply)
        status, reply = script.api("/api/run/hyperparams", "PATCH", {"lr": 0.5})
        assert reply.get("ok") is False and "view only" in reply.get("message", ""), (status, reply)
        before = script.steps()
        until(lambda: script.steps() > before + 5, "the loop stopped after a refused pause", script, 30)
        assert script.run()["status"] == "training"
        assert script.counted()[1] == 0.05  # the optimizer's own learning rate, untouched
        assert problems(page) == []
