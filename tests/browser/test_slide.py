"""The sliding lesson (/learn/slide) in a real browser against the real server (fixtures in
conftest.py): the example street and an upload are slid over, and the map and the boxes are really
drawn on the canvas (its pixels, compared with the photo's); a network that cannot slide is explained.

    python -m pytest tests/browser/test_slide.py -q
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
from PIL import Image

VIEWPORT = {"width": 1366, "height": 900}
STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
              "connect-src 'self'")
BOX = (250, 204, 21)  # the boxes' colour (static/js/teach/slide-page.js)
MISALIGNED = [{"type": "conv", "filters": 4, "size": 3, "pad": 1},
              {"type": "inception", "branches": [[{"type": "conv", "filters": 4, "size": 2, "stride": 2}],
                                                 [{"type": "conv", "filters": 4, "size": 17}]]},
              {"type": "fc", "units": 10}, {"type": "softmax"}]

# What the canvas shows against the photo alone, drawn the same size: at the centre of each window
# whose map value is at least 0.1, or the class's highest when lower (the map's colour there), outside the window centres' area (the
# photo as it is), and at each box's left and bottom edges; box lines and labels are left out.
CANVAS = """async () => {
  const canvas = document.querySelector("#slide-canvas");
  const r = window.slideLesson.state.result;
  const k = Number(canvas.dataset.scale), cls = canvas.dataset.cls;
  const shown = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const img = new Image();
  await new Promise((resolve) => { img.onload = resolve; img.src = r.photo.data; });
  const plain = document.createElement("canvas");
  plain.width = canvas.width; plain.height = canvas.height;
  const ctx = plain.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(img, 0, 0, plain.width, plain.height);
  const photo = ctx.getImageData(0, 0, plain.width, plain.height).data;
  const changed = (x, y) => { const i = 4 * (y * canvas.width + x);
    return shown[i] !== photo[i] || shown[i + 1] !== photo[i + 1] || shown[i + 2] !== photo[i + 2]; };
  const near = (v, a, b) => v >= a - 2 && v < b + 2;
  const drawnOver = (x, y) => r.boxes.some((b) => {
    const [x0, y0, x1, y1] = [b.x * k, b.y * k, (b.x + b.width) * k, (b.y + b.height) * k];
    const line = (near(x, x0, x0 + 2) || near(x, x1 - 2, x1)) && near(y, y0, y1) ||
                 (near(y, y0, y0 + 2) || near(y, y1 - 2, y1)) && near(x, x0, x1);
    const top = y0 >= 15 ? y0 - 15 : y0 + 2;
    return line || (x >= x0 - 1 && x < x0 + 140 && y >= top - 1 && y < top + 16);
  });
  const [rows, cols] = r.grid, [sh, sw] = r.stride, [wh, ww] = r.window;
  const bytes = atob(r.maps.find((m) => m.class === cls).data);
  let strong = 0, strongChanged = 0, peak = 0;
  for (let i = 0; i < bytes.length; i++) peak = Math.max(peak, bytes.charCodeAt(i));
  const likely = Math.min(26, peak);  // p >= 0.1, or the class's best windows when it is never that sure
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const x = Math.floor((ww / 2 + j * sw) * k), y = Math.floor((wh / 2 + i * sh) * k);
      if (bytes.charCodeAt(i * cols + j) < likely || drawnOver(x, y)) continue;
      strong++; strongChanged += changed(x, y);
    }
  }
  const x0 = (ww / 2 - sw / 2) * k, y0 = (wh / 2 - sh / 2) * k, x1 = x0 + cols * sw * k, y1 = y0 + rows * sh * k;
  let outside = 0, outsideChanged = 0, insideChanged = 0;
  for (let y = 0; y < canvas.height; y++) {
    for (let x = 0; x < canvas.width; x++) {
      if (drawnOver(x, y)) continue;
      if (x >= x0 - 1 && x < x1 + 1 && y >= y0 - 1 && y < y1 + 1) { insideChanged += changed(x, y); continue; }
      outside++; outsideChanged += changed(x, y);
    }
  }
  const at = (x, y) => { const i = 4 * (y * canvas.width + x); return [shown[i], shown[i + 1], shown[i + 2]]; };
  const label = (x, y, self) => r.boxes.some((b) => {  // under another box's label (drawn over it)
    if (b === self) return false;
    const [x0, y0] = [b.x * k, b.y * k], top = y0 >= 15 ? y0 - 15 : y0 + 2;
    return x >= x0 - 1 && x < x0 + 140 && y >= top - 1 && y < top + 16;
  });
  const edges = r.boxes.map((b) => [[b.x * k, Math.round((b.y + b.height / 2) * k)],
                                    [Math.round((b.x + b.width / 2) * k), (b.y + b.height) * k - 1]]
    .filter(([x, y]) => !label(x, y, b)).map(([x, y]) => at(x, y)));
  return {strong, strongChanged, insideChanged, outside, outsideChanged, edges, cls, size: [canvas.width, canvas.height], k};
}"""


@contextmanager
def lesson(browser, server):
    """A fresh tab on /learn/slide, served under a strict CSP; yields (tab, errors)."""
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))

    def with_csp(route):
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})

    tab.route(f"{server.url}/learn/slide", with_csp)
    tab.goto(f"{server.url}/learn/slide")
    try:
        yield tab, errors
    finally:
        context.close()


def answered(tab, timeout: float = 60_000) -> dict:
    """Wait for the page's answer to its latest request; the result it drew."""
    tab.wait_for_selector("#slide-msg[data-state=ok], #slide-msg[data-state=error]", timeout=timeout)
    return tab.evaluate("() => window.slideLesson.state.result")


def assert_drawn(tab, boxes: bool = True) -> dict:
    """The map changed the photo's pixels at the centre of every window where its class is likely, and
    nowhere beyond the window centres; every box's edge is the box colour."""
    seen = tab.evaluate(CANVAS)
    # the map over the photo: at every likely window's centre that no box covers (boxes sit on the likeliest)
    assert seen["strongChanged"] == seen["strong"] and seen["insideChanged"] > 100, seen
    assert seen["outside"] > 100 and seen["outsideChanged"] == 0, seen  # the photo as it is where no window centre is
    assert seen["edges"] or not boxes, "no boxes drawn"
    # each box's left and bottom edge, where no other box's label covers them: the box colour; labels
    # are sized by their text, so a few edges may still lie under one: most boxes, not every box
    drawn = [BOX in map(tuple, points) for points in seen["edges"] if points]
    assert drawn and sum(drawn) >= 0.75 * len(drawn), seen["edges"]
    return seen


def test_the_example_street_is_slid_over_and_its_map_and_boxes_drawn(browser, live_server):
    live_server.ensure_training()
    with lesson(browser, live_server) as (tab, errors):
        first = answered(tab)
        assert tab.get_attribute("#slide-msg", "data-state") == "ok", tab.inner_text("#slide-msg")
        assert first["model"] == "convnetjs" and first["window"] == [32, 32] and first["stride"] == [8, 8]
        assert (first["photo"]["width"], first["photo"]["height"]) == (256, 192)  # the 512x384 street, scaled
        assert tab.get_attribute('a[href="/learn/slide"]', "aria-current") == "page"
        # boxes from p = 0.05: a barely trained network is sure of nothing much
        tab.eval_on_selector("#slide-threshold", "(el) => { el.value = '0.05'; el.dispatchEvent(new Event('input')); }")
        tab.wait_for_function("() => window.slideLesson.state.result.threshold === 0.05 && "
                              "document.querySelector('#slide-msg').dataset.state === 'ok'")
        result = tab.evaluate("() => window.slideLesson.state.result")
        assert result["boxes"], "no window reached p = 0.05"
        seen = assert_drawn(tab)
        assert seen["size"] == [512, 384] and seen["k"] == 2
        assert tab.locator("#slide-boxes li").count() == len(result["boxes"])
        # another class's map: other pixels
        before = tab.evaluate("() => document.querySelector('#slide-canvas').toDataURL()")
        other = next(m["class"] for m in result["maps"] if m["class"] != seen["cls"])
        tab.click(f'#slide-classes button[data-cls="{other}"]')
        assert tab.get_attribute(f'#slide-classes button[data-cls="{other}"]', "aria-pressed") == "true"
        assert tab.evaluate("() => document.querySelector('#slide-canvas').toDataURL()") != before
        assert assert_drawn(tab)["cls"] == other
        # the layers and what they became, and the costs, as the server counted them
        fc = tab.locator("#slide-layer-table tbody tr[data-path='10'] td")
        assert fc.nth(1).inner_text() == "fc 10" and fc.nth(2).inner_text().startswith("conv 4x4, 10 filters")
        macs = result["macs"]
        costs = tab.locator("#slide-costs li.slide-cost")
        assert [costs.nth(i).get_attribute("data-macs") for i in range(3)] == [
            str(macs["per_window"]), str(macs["exact"]), str(macs["one_pass"])]
        assert f"{macs['per_window']:,}" in tab.inner_text("#slide-costs")
        assert "padding is what windows do not share" in tab.inner_text("#slide-verdict")
        # one pass instead
        tab.uncheck("#slide-exact")
        tab.wait_for_function("() => window.slideLesson.state.result.exact === false")
        assert tab.locator("#slide-costs li[data-way='one-pass']").get_attribute("data-run") == "true"
        assert errors == []


def test_an_uploaded_photo_is_slid_over(browser, live_server, tmp_path):
    live_server.ensure_training()
    yy, xx = np.mgrid[0:120, 0:200]
    rgb = np.stack([255 * xx / 200, 255 * yy / 120, 128 + 100 * np.sin(xx / 7.0)], -1)
    path = tmp_path / "wide.png"
    Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(path)
    with lesson(browser, live_server) as (tab, errors):
        answered(tab)  # the example first
        tab.select_option("#slide-side", "128")
        answered(tab)
        tab.set_input_files("#slide-file", str(path))
        tab.wait_for_function("() => window.slideLesson.state.result.photo.source_width === 200 && "
                              "document.querySelector('#slide-msg').dataset.state === 'ok'")
        result = tab.evaluate("() => window.slideLesson.state.result")
        assert (result["photo"]["width"], result["photo"]["height"]) == (128, 77) and result["grid"] == [6, 13]
        assert "6×13 = 78 windows" in tab.inner_text("#slide-msg")
        seen = assert_drawn(tab, boxes=False)  # boxes from p = 0.5: there may be none
        assert seen["k"] == 5 and seen["size"] == [640, 385]
        assert errors == []


def test_a_network_that_cannot_slide_is_explained(browser, live_server):
    status, reply = live_server.api("/api/run/model", "POST", {"spec": MISALIGNED, "name": "misaligned"})
    assert status == 200 and reply["ok"], reply
    try:
        deadline = time.monotonic() + 60
        while live_server.run().get("model") != "misaligned" or live_server.run().get("step", 0) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        with lesson(browser, live_server) as (tab, errors):
            answered(tab)
            assert tab.get_attribute("#slide-msg", "data-state") == "error"
            assert tab.inner_text("#slide-msg").startswith(
                "the live network cannot slide over a photo: layer 1 (inception): branch 0 moves 2 pixels per output")
            assert tab.is_hidden("#slide-stage")
            assert all("422" in e for e in errors), errors  # the browser logs the refused request
    finally:
        live_server.ensure_training()
