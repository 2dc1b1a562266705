"""The live page in a real browser against the real server (fixtures in conftest.py).

The tests share one server and run in file order; each starts from "training convnetjs"
(the `page` fixture restores it), so any one of them can also run alone.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "screenshot.png"

# JS helpers evaluated in the page: counts over a canvas's pixels
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
PIXEL_STATS = """(selector) => {
  const canvas = document.querySelector(selector);
  if (!canvas || !canvas.width || !canvas.height) return null;
  const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const colours = new Set();
  let coloured = 0;
  for (let i = 0; i < d.length; i += 4) {
    colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    if (Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 40) coloured++;
  }
  return {distinct: colours.size, coloured, pixels: d.length / 4};
}"""

TRAIN_BLUE = (37, 99, 235)  # charts.js COLORS.train: the smoothed training curve
LR_PURPLE = (124, 58, 237)  # charts.js COLORS.lr
FIRST_CONV = "#network article.layer[data-type=conv]"


def step_shown(page) -> int:
    return int(page.page.inner_text("#stat-step"))


def test_page_loads_connects_and_logs_no_errors(page):
    page.wait_for("store.train.length > 2 && store.frame !== null")
    assert page.page.get_attribute("#conn", "data-state") == "open"
    assert page.page.inner_text("#status-pill").lower() == "training"
    assert page.page.inner_text("#stat-model") == "convnetjs"
    assert page.state("store.classes.length") == 10
    # every preset is offered, with its size
    assert page.page.locator("#model-list button.model").count() == page.state("store.presets.length") > 1
    assert page.errors == []


def test_charts_draw_live_curves(page):
    # a young run: the shared one trains endlessly on 512 random images and learns them by heart;
    # its test loss then climbs and the training loss lies along the loss chart's bottom edge, which
    # is the likely cause of this test's rare failures late in a full run (5-7 pixels drawn)
    status, reply = page.server.api("/api/run/reset", "POST")
    assert status == 200 and reply["ok"]
    page.wait_for(f"store.run.run_id === '{reply['run']['run_id']}' && store.train.length > 5")
    first = page.state("store.train.lastX")
    page.wait_for(f"store.train.lastX > {first}")  # the stream keeps coming
    for chart, colour in (("#chart-loss", TRAIN_BLUE), ("#chart-acc", TRAIN_BLUE), ("#chart-lr", LR_PURPLE)):
        # a curve of a few points on a busy machine may take some frames to show: poll, then judge
        drawn = page.page.evaluate(COLOUR_PIXELS, [f"{chart} canvas", list(colour), 40])
        for _ in range(50):
            if drawn > 20:
                break
            page.page.wait_for_timeout(200)
            drawn = page.page.evaluate(COLOUR_PIXELS, [f"{chart} canvas", list(colour), 40])
        assert drawn > 20, f"{chart}: the curve's colour covers only {drawn} pixels"
    assert page.errors == []


def test_activation_and_filter_canvases_hold_pictures(page):
    page.wait_for("store.frame !== null")
    page.page.wait_for_selector(f"{FIRST_CONV} figure[data-kind=activation] canvas.blob-canvas", state="visible")
    for kind in ("activation", "activation_grad", "filter"):
        stats = page.page.evaluate(PIXEL_STATS, f"{FIRST_CONV} figure[data-kind={kind}] canvas.blob-canvas")
        assert stats is not None, f"no {kind} canvas on the first conv layer"
        assert stats["distinct"] > 8, f"{kind} canvas is (nearly) uniform: {stats}"
    # the first layer's filters are drawn in colour (RGB weights), not through a colour map
    filters = page.page.evaluate(PIXEL_STATS, f"{FIRST_CONV} figure[data-kind=filter] canvas.blob-canvas")
    assert filters["coloured"] > 0
    # crisp scaling: canvases are drawn with smoothing off
    assert page.page.evaluate(
        f"() => document.querySelector('{FIRST_CONV} figure[data-kind=activation] canvas').getContext('2d').imageSmoothingEnabled"
    ) is False
    # hovering a pixel reads out its real value
    canvas = page.page.locator(f"{FIRST_CONV} figure[data-kind=activation] canvas.blob-canvas").first
    canvas.hover(position={"x": 5, "y": 5})
    readout = page.page.locator(f"{FIRST_CONV} figure[data-kind=activation] .readout").first.inner_text()
    assert readout.startswith("channel 0 (x ")
    # every layer of the model has a row; the input row shows the probe image
    layers = page.state("store.layers.filter(l => l.path.length === 1).length")
    assert page.page.locator("#network article.layer").count() == layers
    assert page.page.locator("#network article.layer[data-type=input] figure[data-kind=input] canvas.blob-canvas").is_visible()


def test_pause_stops_the_step_counter_and_step_advances_by_one(page):
    page.page.click("#btn-pause")
    page.page.wait_for_selector("#status-pill[data-status=paused]")
    assert page.page.inner_text("#btn-pause") == "Resume"
    page.page.wait_for_timeout(600)  # metrics already on their way may still land
    paused_at = step_shown(page)
    page.page.wait_for_timeout(1500)
    assert step_shown(page) == paused_at
    assert page.server.run()["step"] == paused_at

    page.page.click("#btn-step")
    page.wait_for(f"store.train.lastX === {paused_at + 1}")
    assert page.page.inner_text("#status-pill").lower() == "paused"

    page.page.click("#btn-pause")  # now "Resume"
    page.page.wait_for_selector("#status-pill[data-status=training]")
    page.wait_for(f"store.train.lastX > {paused_at + 3}")
    assert page.errors == []


def test_learning_rate_change_takes_effect(page):
    page.page.fill("#hp-lr", "0.0123")
    page.page.press("#hp-lr", "Enter")
    page.page.wait_for_selector("#hyper-msg[data-state=ok]")
    page.wait_for("store.run.config.lr === 0.0123")
    assert page.server.run()["config"]["lr"] == 0.0123
    assert page.page.get_attribute("#hp-lr", "data-state") == "ok"


def test_bad_learning_rate_shows_the_servers_error(page):
    before = page.server.run()["config"]["lr"]
    status, reply = page.server.api("/api/run/hyperparams", "PATCH", {"lr": -0.5})
    assert status == 422 and reply["detail"]

    page.page.fill("#hp-lr", "-0.5")
    page.page.press("#hp-lr", "Tab")  # leaving the field applies it too
    page.page.wait_for_selector("#hyper-msg[data-state=error]")
    message = page.page.inner_text("#hyper-msg")
    assert reply["detail"] in message
    assert page.page.get_attribute("#hp-lr", "data-state") == "error"
    assert page.page.input_value("#hp-lr") == "-0.5"  # kept, to be corrected
    assert page.server.run()["config"]["lr"] == before


def test_model_picker_switches_the_layer_view(page):
    def layer_names() -> list[str]:
        return page.page.locator("#network article.layer .layer-name").all_inner_texts()

    before = layer_names()
    _, lenet = page.server.api("/api/models/lenet/summary")
    page.page.click("#model-list button.model[data-name=lenet]")
    page.page.wait_for_selector("#model-list button.model[data-name=lenet][aria-pressed=true]")
    page.wait_for("store.run.model === 'lenet'")
    page.page.wait_for_function(
        "n => document.querySelectorAll('#network article.layer').length === n",
        arg=sum(1 for row in lenet["layers"] if len(row["path"]) == 1))
    after = layer_names()
    assert after != before
    assert after == [row["name"] for row in lenet["layers"] if len(row["path"]) == 1]
    assert page.page.inner_text("#stat-model") == "lenet"
    page.page.wait_for_selector("#model-msg[data-state=ok]")
    # and back: the picker works both ways, and later tests expect convnetjs
    page.page.click("#model-list button.model[data-name=convnetjs]")
    page.wait_for("store.run.model === 'convnetjs' && store.layers.length > 0")
    assert layer_names() == before
    assert page.errors == []


def test_probe_picker_chooses_the_probe_image(page):
    page.page.wait_for_selector("#probe-thumbs button.thumb")
    thumb = page.page.locator("#probe-thumbs button.thumb").nth(3)
    index = int(thumb.get_attribute("data-index"))
    if index == page.state("store.probe && store.probe.index"):
        thumb = page.page.locator("#probe-thumbs button.thumb").nth(4)
        index = int(thumb.get_attribute("data-index"))
    thumb.click()
    page.page.wait_for_selector("#probe-msg[data-state=ok]")
    page.wait_for(f"store.frame && store.frame.image.index === {index}")
    assert page.page.get_attribute("#probe-img", "src").endswith(f"/api/images/test/{index}.png")
    assert page.page.input_value("#probe-index") == str(index)
    # an index past the end of the test set: the server's refusal is shown
    page.page.fill("#probe-index", "999999")
    page.page.click("#probe-go")
    page.page.wait_for_selector("#probe-msg[data-state=error]")
    # the browser logs the refused request itself; nothing else may go wrong
    assert [e for e in page.errors if "status of 422" not in e] == []


def test_predictions_and_evaluation_show(page, tmp_path):
    page.wait_for("store.predictions !== null && store.lastEval !== null", timeout=60)
    cards = page.page.locator("#predictions figure.prediction")
    assert cards.count() == page.state("store.predictions.items.length") > 0
    assert cards.first.locator("li.bar").count() == 3
    # each card's verdict, read in one go (a newer predictions message may redraw them): right
    # exactly when its first bar names its true class
    shown = cards.evaluate_all("""cards => cards.map(c => ({correct: c.dataset.correct,
        verdict: c.querySelector('.verdict').textContent, truth: c.querySelector('.truth').textContent,
        first: c.querySelector('li.bar .bar-label').textContent}))""")
    for card in shown:
        right = card["first"] == card["truth"]
        assert (card["correct"], card["verdict"]) == (str(right).lower(), "right" if right else "wrong"), card
    assert page.page.locator("#eval table.confusion tbody tr").count() == 10
    assert page.errors == []


def test_chart_series_stay_bounded_and_probe_frames_are_checked(page):
    result = page.page.evaluate("""async () => {
      const { BoundedSeries } = await import('/static/js/series.js');
      const { decodeProbe, ProbeDecodeError } = await import('/static/js/probe.js');
      const s = new BoundedSeries(['loss'], 2000);
      let sum = 0;
      for (let i = 1; i <= 100000; i++) { s.push({step: i, loss: i % 7}); sum += i % 7; }
      const kept = s.y.loss.reduce((a, b) => a + b, 0) / s.length;
      let refused = null;
      try { decodeProbe(new TextEncoder().encode('NOPE....').buffer); } catch (e) { refused = e instanceof ProbeDecodeError; }
      const head = new TextEncoder().encode(JSON.stringify({type: 'probe', step: 1, image: {source: 'test', index: 0},
        blobs: [{layer: 0, kind: 'activation', count: 1, height: 2, width: 2, channels: 1, min: 0, max: 1, offset: 0, length: 4}]}));
      const frame = new Uint8Array(8 + head.length + 4);
      frame.set([67, 83, 80, 49]); new DataView(frame.buffer).setUint32(4, head.length, true);
      frame.set(head, 8); frame.set([0, 85, 170, 255], 8 + head.length);
      const decoded = decodeProbe(frame.buffer);
      let short = null;
      try { decodeProbe(frame.slice(0, frame.length - 1).buffer); } catch (e) { short = e instanceof ProbeDecodeError; }
      return {length: s.length, last: s.lastX, mean: kept, trueMean: sum / 100000, refused, short,
              pixels: Array.from(decoded.blobs[0].pixels)};
    }""")
    assert 1000 <= result["length"] <= 2000
    assert 99_900 < result["last"] <= 100_000
    assert abs(result["mean"] - result["trueMean"]) < 0.05  # thinning averages, it does not drop
    assert result["refused"] and result["short"]
    assert result["pixels"] == [0, 85, 170, 255]


def test_data_progress_shows_in_a_banner(page):
    # as the server says while it downloads CIFAR-10 (injected: the tiny dataset loads too fast to
    # see), into a paused run so that no real state message overwrites it at once
    page.page.click("#btn-pause")
    page.page.wait_for_selector("#status-pill[data-status=paused]")
    page.page.evaluate("""() => window.convscope.store.applyMessage({type: "state", run: {
      ...window.convscope.store.run, status: "loading",
      data_progress: {stage: "downloading cifar-10-python.tar.gz", done: 51200000, total: 170498071}}})""")
    banner = page.page.locator("#banners [data-banner=data]")
    banner.wait_for(state="visible")
    assert "51.2 MB of 170.5 MB (30%)" in banner.inner_text()
    assert page.page.eval_on_selector("#banners [data-banner=data] progress", "p => p.value") == 51200000
    assert page.page.is_disabled("#btn-pause")


def test_connection_loss_shows_a_banner_and_reconnects(page):
    # the banner shows from the drop until the reconnect (>= 400 ms later): catch it in between
    banner = page.page.evaluate("""async () => {
      window.convscope.socket.drop();
      const b = document.querySelector('#banners [data-banner=connection]');
      for (let waited = 0; b.hidden && waited < 5000; waited += 10) await new Promise(r => setTimeout(r, 10));
      return {hidden: b.hidden, text: b.textContent};
    }""")
    assert not banner["hidden"] and "Reconnecting" in banner["text"], banner
    page.wait_for("store.connection.state === 'open'", timeout=20)
    page.page.wait_for_selector("#banners [data-banner=connection]", state="hidden")
    step = page.state("store.train.lastX")
    page.wait_for(f"store.train.lastX > {step}")
    assert page.errors == []


# A policy as strict as the one a later change will send: no inline script or style at all.
STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
              "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def test_page_works_under_a_strict_content_security_policy(new_page, live_server):
    def with_csp(route):
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})

    live_server.ensure_training()
    context, page = new_page(live_server, route=with_csp)
    try:
        page.wait_for("store.train.length > 2 && store.frame !== null")
        page.page.wait_for_timeout(500)
        drawn = page.page.evaluate(COLOUR_PIXELS, ["#chart-loss canvas", list(TRAIN_BLUE), 40])
        assert drawn > 20
        assert page.page.locator("#network article.layer").count() > 3
        assert page.errors == [], "the page broke its content security policy"
    finally:
        context.close()


def test_missing_data_shows_the_servers_message(new_page, start_server, tmp_path):
    with start_server(tmp_path / "no-such-folder", ready="error") as server:
        message = server.run()["message"]
        context, page = new_page(server)
        try:
            banner = page.page.locator("#banners [data-banner=run-error]")
            banner.wait_for(state="visible")
            assert message in banner.inner_text()
            assert page.page.inner_text("#status-pill").lower() == "error"
            assert page.page.is_disabled("#btn-pause")
            assert page.errors == []
        finally:
            context.close()


def test_screenshot(new_page, start_server, live_server, tmp_path):
    """The README's picture: docs/screenshot.png, rewritten when missing or CONVSCOPE_SCREENSHOT=1.

    With CONVSCOPE_SCREENSHOT=1 and the shared CIFAR-10 JPEG copy beside the checkout, the picture
    shows a run on real CIFAR-10 (its own server, ~1 minute); otherwise the tiny test images.
    """
    rewrite = os.environ.get("CONVSCOPE_SCREENSHOT") == "1" or not SCREENSHOT.exists()
    target = SCREENSHOT if rewrite else tmp_path / "screenshot.png"
    if rewrite and CIFAR_JPEG.is_file():
        with start_server(CIFAR_JPEG, "--model", "convnetjs") as server:
            capture(new_page, server, target, steps=150)
    else:
        live_server.ensure_training()
        capture(new_page, live_server, target, steps=20)
    assert target.stat().st_size > 20_000


CIFAR_JPEG = ROOT.parent / "shared" / "datasets" / "cifar10-jpeg.zip"


def capture(new_page, server, target: Path, steps: int) -> None:
    """Once training has drawn curves, an evaluation, predictions and a probe: a 1366x900 picture."""
    context, page = new_page(server)
    try:
        page.wait_for("store.predictions !== null && store.lastEval !== null && store.frame !== null"
                      f" && store.train.length > {steps}", timeout=120)
        page.page.wait_for_timeout(800)
        page.page.screenshot(path=str(target))
        assert page.errors == []
    finally:
        context.close()
