"""Draw your own, in a real browser (fixtures in conftest.py): on a 1x28x28 dataset a stroke drawn
with the mouse is classified as it is drawn (throttled, one request at a time, the finished
drawing last), its top classes and every layer's maps show; noise and blank are classified, clear
sends nothing; a 429 is waited out; a finger on a phone draws too; on the 32x32 RGB dataset there
is no canvas."""

from __future__ import annotations

import time

import pytest

# every POST /api/classify the page makes: when it started and ended (performance.now(), ms), and
# the most at once; `delay` (ms) holds each answer back, for a slow server. (GET /api/classify/{id},
# more parts of an answer as their views come on screen, are not classifications of a drawing.)
RECORD_CLASSIFY = """() => {
  const calls = window.__classify = {started: [], ended: [], open: 0, most: 0, delay: 0};
  const fetch = window.fetch.bind(window);
  window.fetch = async (url, init) => {
    if (!String(url).startsWith("/api/classify") || !init || init.method !== "POST") return fetch(url, init);
    calls.started.push(performance.now());
    calls.most = Math.max(calls.most, ++calls.open);
    try {
      const answer = await fetch(url, init);
      if (calls.delay) await new Promise((resolve) => setTimeout(resolve, calls.delay));
      return answer;
    } finally { calls.open--; calls.ended.push(performance.now()); }
  };
}"""
CALLS = "() => window.__classify"

# a canvas's pixels as a short signature, and how many distinct grays / how many lit pixels it has
PIXELS = """(selector) => {
  const canvas = document.querySelector(selector);
  if (!canvas || !canvas.width) return null;
  const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let hash = 0, lit = 0;
  const colours = new Set();
  for (let i = 0; i < d.length; i += 4) {
    const c = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
    colours.add(c);
    if (c !== 0) lit++;
    hash = (Math.imul(hash, 31) + c) | 0;
  }
  return {hash, lit, distinct: colours.size, width: canvas.width, height: canvas.height};
}"""

# whether the image last classified (the upload's Blob) has exactly the drawing's pixels
UPLOAD_IS_DRAWING = """async () => {
  const canvas = document.querySelector("#draw-canvas");
  const bitmap = await createImageBitmap(window.convscope.store.upload.file);
  const copy = document.createElement("canvas");
  copy.width = bitmap.width; copy.height = bitmap.height;
  copy.getContext("2d").drawImage(bitmap, 0, 0);
  const a = copy.getContext("2d").getImageData(0, 0, copy.width, copy.height).data;
  const b = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}"""

FIRST_CONV_MAP = "#network article.layer[data-type=conv] figure[data-kind=activation] canvas.blob-canvas"


@pytest.fixture
def draw_page(idx_server, new_page):
    context, page = new_page(idx_server)
    page.page.evaluate(RECORD_CLASSIFY)
    page.page.wait_for_selector("#draw-canvas", state="visible")
    page.wait_for("store.predictions !== null && store.frame !== null")  # the panels above are drawn
    yield page
    context.close()


def stroke(page, points, steps=6):
    """Drag the mouse through `points` (fractions of the canvas's box), button down."""
    def at(fx, fy):  # where the canvas is now: the panels above it may still be growing
        box = page.page.locator("#draw-canvas").bounding_box()
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

    # in view, clear of the sticky top bar: the mouse reaches only what is on the screen
    page.page.locator("#draw-canvas").evaluate("c => c.scrollIntoView({block: 'center'})")
    page.page.mouse.move(*at(*points[0]))
    page.page.mouse.down()
    for point in points[1:]:
        page.page.mouse.move(*at(*point), steps=steps)
        page.page.wait_for_timeout(60)
    page.page.mouse.up()


def settled(page, before: int) -> dict:
    """The page's classify calls once more than `before` have been made, none is open and the
    drawing has nothing more to send (its top classes are no longer aria-busy)."""
    page.page.wait_for_function(
        f"() => window.__classify.started.length > {before} && window.__classify.open === 0"
        " && window.__classify.ended.length === window.__classify.started.length"
        " && document.querySelector('#draw-top').getAttribute('aria-busy') === 'false'")
    return page.page.evaluate(CALLS)


def layers_shown(page) -> None:
    """Scroll to the layer view: the page fetches the shown drawing's maps (if its answer had none:
    the layer view was off screen) and the layer view shows them."""
    page.page.locator("#panel-network").evaluate("p => p.scrollIntoView({block: 'start'})")
    page.wait_for("store.upload !== null && store.upload.frame !== null && store.layerSource === 'upload'")


def maps_other_than(page, signature: int | None, timeout: float = 10.0) -> dict:
    """The first conv layer's first map once it is drawn and its pixels are not `signature`."""
    deadline = time.monotonic() + timeout
    while True:
        now = page.page.evaluate(PIXELS, FIRST_CONV_MAP)
        if now is not None and now["hash"] != signature:
            return now
        assert time.monotonic() < deadline, f"the layer maps did not change from {signature}"
        page.page.wait_for_timeout(100)


def test_the_canvas_is_made_for_the_datasets_size(draw_page):
    page = draw_page
    dataset = page.state("store.run.dataset")
    assert (dataset["channels"], dataset["height"], dataset["width"]) == (1, 28, 28)
    canvas = page.page.evaluate(PIXELS, "#draw-canvas")
    assert (canvas["width"], canvas["height"]) == (280, 280)  # ten canvas pixels per image pixel
    assert canvas["lit"] == 0  # black until drawn on
    assert page.page.inner_text("#draw-size") == "28×28"
    assert page.page.locator("#draw-canvas").evaluate("c => getComputedStyle(c).touchAction") == "none"
    # labelled, and the buttons are buttons
    assert page.page.get_by_role("img", name="drawing area").count() == 1
    assert page.page.get_by_role("group", name="Or draw your own").count() == 1
    for name in ("Clear", "Noise", "Blank"):
        assert page.page.get_by_role("button", name=name, exact=True).count() == 1
    assert page.errors == []


def test_a_stroke_is_classified_as_it_is_drawn(draw_page):
    page = draw_page
    before_maps = page.page.evaluate(PIXELS, FIRST_CONV_MAP)
    # a slow stroke (about 1.5 s): classified on the way, then once more as it ends
    stroke(page, [(0.5, 0.15), (0.5, 0.35), (0.5, 0.55), (0.52, 0.7), (0.55, 0.85)], steps=8)
    drawn = page.page.evaluate(PIXELS, "#draw-canvas")
    assert drawn["lit"] > 2000 and drawn["distinct"] > 1  # a white stroke on black
    calls = settled(page, 0)
    started = calls["started"]
    assert len(started) >= 2, calls  # while drawing, not only at the end
    assert calls["most"] == 1, calls  # never two at once
    gaps = [b - a for a, b in zip(started, started[1:])]
    assert min(gaps) >= 250, gaps  # at most a few a second (300 ms apart)
    # the answer shown is the finished drawing's
    page.wait_for("store.upload !== null")
    assert page.page.evaluate(UPLOAD_IS_DRAWING)
    # its top classes beside the canvas, as the server ranked them; the whole verdict below
    top = page.state("store.upload.result.top")
    labels = page.page.locator("#draw-top li.bar .bar-label").all_inner_texts()
    assert labels == [t["class"] for t in top[:3]]
    assert all(label in page.state("store.run.dataset.classes") for label in labels)
    page.page.wait_for_selector("#classify-result", state="visible")
    assert page.page.locator("#classify-bars li.bar").count() == 10
    # the layer view shows the drawing's maps, once it is on screen
    layers_shown(page)
    page.page.wait_for_selector("#net-source", state="visible")
    assert page.state("store.shownFrame.image.source") == "upload"
    after_maps = maps_other_than(page, before_maps and before_maps["hash"])
    assert after_maps["distinct"] > 2
    assert page.errors == []


def test_the_finished_drawing_follows_the_one_in_flight(draw_page):
    page = draw_page
    page.page.evaluate("() => { window.__classify.delay = 1500; }")  # a slow server
    stroke(page, [(0.3, 0.3), (0.7, 0.7)], steps=4)  # lifted while the drawing at pen down is classified
    assert page.page.evaluate(CALLS)["open"] == 1
    calls = settled(page, 1)
    assert len(calls["started"]) == 2, calls  # the drawing at pen down, then the finished one
    assert calls["started"][1] >= calls["ended"][0], calls
    page.wait_for("store.upload !== null")
    assert page.page.evaluate(UPLOAD_IS_DRAWING)
    assert page.errors == []


def test_noise_and_blank_are_classified(draw_page):
    page = draw_page
    page.page.get_by_role("button", name="Noise", exact=True).focus()
    page.page.keyboard.press("Enter")  # keyboard operable
    calls = settled(page, 0)
    assert len(calls["started"]) == 1
    noise = page.page.evaluate(PIXELS, "#draw-canvas")
    assert noise["distinct"] > 200  # nearly every one of the 784 pixels its own gray
    page.wait_for("store.upload !== null")
    assert page.page.evaluate(UPLOAD_IS_DRAWING)
    assert page.page.locator("#draw-top li.bar").count() == 3
    layers_shown(page)
    noise_maps = maps_other_than(page, None)
    page.page.evaluate("() => { window.__noise = window.convscope.store.upload; }")

    page.page.keyboard.press("Tab")  # on to "Blank"
    page.page.keyboard.press(" ")
    calls = settled(page, 1)
    assert len(calls["started"]) == 2
    assert page.page.evaluate(PIXELS, "#draw-canvas")["lit"] == 0
    page.wait_for("store.upload !== window.__noise")
    assert page.page.evaluate(UPLOAD_IS_DRAWING)
    layers_shown(page)
    maps_other_than(page, noise_maps["hash"])  # a blank image's maps are not the noise's
    assert page.errors == []


def test_clear_wipes_the_canvas_and_sends_nothing(draw_page):
    page = draw_page
    stroke(page, [(0.2, 0.2), (0.8, 0.8)])
    calls = settled(page, 0)
    assert page.page.locator("#draw-top li.bar").count() == 3
    page.page.get_by_role("button", name="Clear", exact=True).click()
    assert page.page.evaluate(PIXELS, "#draw-canvas")["lit"] == 0
    assert page.page.locator("#draw-top li.bar").count() == 0
    page.page.wait_for_timeout(800)
    assert len(page.page.evaluate(CALLS)["started"]) == len(calls["started"])
    assert page.errors == []


def test_a_drawing_cleared_while_it_is_encoded_is_not_sent(draw_page):
    page = draw_page
    # the PNG encoding held back until the test lets it go, so that Clear comes between the
    # send's start and its request
    page.page.evaluate("""() => {
      const toBlob = HTMLCanvasElement.prototype.toBlob;
      window.__encoding = 0;
      let release;
      const released = new Promise((resolve) => { release = resolve; });
      window.__release = release;
      HTMLCanvasElement.prototype.toBlob = function (callback, ...args) {
        window.__encoding++;
        toBlob.call(this, (blob) => released.then(() => callback(blob)), ...args);
      };
    }""")
    stroke(page, [(0.5, 0.5), (0.5, 0.5)], steps=1)  # a tap: one dot
    page.page.wait_for_function("() => window.__encoding === 1")
    page.page.get_by_role("button", name="Clear", exact=True).click()
    page.page.evaluate("() => window.__release()")
    page.page.wait_for_function("() => document.querySelector('#draw-top').getAttribute('aria-busy') === 'false'")
    page.page.wait_for_timeout(800)
    assert page.page.evaluate(CALLS)["started"] == []
    assert page.page.evaluate(PIXELS, "#draw-canvas")["lit"] == 0
    assert page.errors == []


def test_a_rate_limited_drawing_is_sent_again(draw_page):
    page = draw_page
    refused = []

    def once_429(route):
        if not refused:
            refused.append(route.request.url)
            route.fulfill(status=429, headers={"Retry-After": "1", "Content-Type": "application/json"},
                          body='{"detail": "too many classifications from your address: wait 1 s and try again"}')
        else:
            route.continue_()

    page.page.route("**/api/classify*", once_429)
    page.page.evaluate("""() => {  // every message the classify panel shows
      const msg = document.querySelector("#classify-msg");
      window.__said = [];
      new MutationObserver(() => window.__said.push([msg.dataset.state, msg.textContent]))
        .observe(msg, {childList: true, characterData: true, subtree: true, attributes: true});
    }""")
    page.page.get_by_role("button", name="Noise", exact=True).click()  # one drawing, refused
    calls = settled(page, 1)
    assert len(calls["started"]) == 2, calls  # and sent again
    said = page.page.evaluate("() => window.__said")
    assert any(state == "error" and "too many classifications" in text for state, text in said), said
    assert len(refused) == 1
    assert calls["started"][1] - calls["started"][0] >= 900  # the Retry-After was waited out
    page.page.wait_for_selector("#classify-msg[data-state=ok]")
    assert page.page.evaluate(UPLOAD_IS_DRAWING)
    # the browser logs the refused request; nothing else went wrong
    assert all("429" in e for e in page.errors), page.errors


def test_a_finger_draws_too(idx_server, new_page):
    context, page = new_page(idx_server, phone=True)
    try:
        page.page.evaluate(RECORD_CLASSIFY)
        canvas = page.page.locator("#draw-canvas")
        canvas.wait_for(state="visible")
        canvas.evaluate("c => c.scrollIntoView({block: 'center'})")
        box = canvas.bounding_box()
        assert box["width"] <= 390
        page.page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # a dot
        settled(page, 0)
        assert page.page.evaluate(PIXELS, "#draw-canvas")["lit"] > 300
        page.wait_for("store.upload !== null")
        assert page.page.evaluate(UPLOAD_IS_DRAWING)
        assert page.errors == []
    finally:
        context.close()


def test_there_is_no_canvas_for_rgb_images(page):
    dataset = page.state("store.run.dataset")
    assert (dataset["channels"], dataset["height"], dataset["width"]) == (3, 32, 32)
    assert page.page.locator("#draw").is_hidden()
    assert page.page.locator("#draw-canvas").is_hidden()
