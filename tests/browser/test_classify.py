"""Classifying an upload on the live page, in a real browser (fixtures in conftest.py): the file
picker, paste and drop; the bars, the crop, the saliency overlays, the neighbours; the layer maps
asked for only once the layer view is on screen, then the layer view switching to the upload and
back; the confusion matrix's cells listing their test images."""

from __future__ import annotations

import numpy as np
from PIL import Image

# counts over a canvas's pixels (as in test_page.py)
PIXEL_STATS = """(selector) => {
  const canvas = document.querySelector(selector);
  if (!canvas || !canvas.width || !canvas.height) return null;
  const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const colours = new Set();
  for (let i = 0; i < d.length; i += 4) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  return {distinct: colours.size, width: canvas.width, height: canvas.height};
}"""

# a 90x60 picture as a PNG file made in the page, handed over as a paste or a drop
MAKE_FILE = """async () => {
  const c = document.createElement("canvas");
  c.width = 90; c.height = 60;
  const ctx = c.getContext("2d");
  const g = ctx.createLinearGradient(0, 0, 90, 60);
  g.addColorStop(0, "#1d4ed8"); g.addColorStop(1, "#f59e0b");
  ctx.fillStyle = g; ctx.fillRect(0, 0, 90, 60);
  const blob = await new Promise((resolve) => c.toBlob(resolve, "image/png"));
  window.__upload = new File([blob], "made-in-the-page.png", {type: "image/png"});
}"""


def picture(path, width=120, height=80):
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.stack([255 * xx / width, 255 * yy / height, 128 + 100 * np.sin(xx / 5.0)], -1)
    Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(path, quality=95)
    return path


ON_SCREEN = """(selector) => {
  const r = document.querySelector(selector).getBoundingClientRect();
  return r.bottom > 0 && r.top < innerHeight;
}"""


def test_an_upload_shows_its_verdict_crop_saliency_and_layers(page, tmp_path):
    asked = []  # the page's requests to /api/classify, in order
    page.page.on("request", lambda r: asked.append((r.method, r.url)) if "/api/classify" in r.url else None)
    page.page.set_viewport_size({"width": 1366, "height": 700})  # a laptop's, less the browser's bars
    page.page.locator("#panel-classify").evaluate("p => p.scrollIntoView({block: 'start'})")
    path = picture(tmp_path / "wide.jpg")
    page.page.set_input_files("#classify-file", str(path))
    page.wait_for("store.upload !== null")
    page.page.wait_for_selector("#classify-result", state="visible")
    page.page.wait_for_selector("#classify-msg[data-state=ok]")
    # the layer view is not on screen: its maps were neither asked for nor computed
    assert not page.page.evaluate(ON_SCREEN, "#network")
    assert [method for method, _ in asked] == ["POST"] and "parts=gradcam,gradient,neighbours" in asked[0][1]
    assert page.state("store.upload.result.parts") == ["prediction", "gradcam", "gradient", "neighbours"]
    assert page.state("store.upload.frame") is None and page.state("store.layerSource") == "probe"
    kept = page.state("store.upload.result.id")  # the server keeps the upload for the rest
    assert kept
    # one bar per class, the most likely first, as the server said
    bars = page.page.locator("#classify-bars li.bar")
    assert bars.count() == 10
    top = page.state("store.upload.result.top[0]")
    assert bars.first.locator(".bar-label").inner_text() == top["class"]
    assert page.page.inner_text("#classify-msg").startswith(top["class"])
    # the crop, the saliency overlays and the original are drawn, and are pictures
    page.page.wait_for_function("() => document.querySelector('#classify-original').width > 0")
    for canvas in ("#classify-input", "#classify-gradcam", "#classify-gradient", "#classify-original"):
        stats = page.page.evaluate(PIXEL_STATS, canvas)
        assert stats is not None and stats["distinct"] > 8, f"{canvas} is (nearly) uniform: {stats}"
    overlay = page.page.evaluate(PIXEL_STATS, "#classify-gradcam")
    plain = page.page.evaluate(PIXEL_STATS, "#classify-input")
    assert overlay["distinct"] != plain["distinct"]  # the heat map changed the picture
    assert "centre 80×80 square" in page.page.inner_text("#classify-crop-note")
    # once the layer view is scrolled to, its maps are fetched (the upload kept by the server, not
    # sent again) and it shows them until "back to the probe image"
    page.page.locator("#panel-network").evaluate("p => p.scrollIntoView({block: 'start'})")
    page.wait_for("store.layerSource === 'upload' && store.upload.frame !== null")
    page.page.wait_for_selector("#net-source", state="visible")
    assert [method for method, _ in asked] == ["POST", "GET"] and asked[1][1].endswith("&parts=frame")
    assert asked[1][1].split("?")[0].endswith(f"/api/classify/{kept}")
    upload = page.state("store.upload.result")
    assert "frame" in upload["parts"] and upload["id"] is None  # every part sent: nothing kept
    assert page.state("store.shownFrame.image.source") == "upload"
    stats = page.page.evaluate(
        PIXEL_STATS, "#network article.layer[data-type=conv] figure[data-kind=activation] canvas.blob-canvas")
    assert stats["distinct"] > 8
    page.page.click("#net-back")
    page.page.wait_for_selector("#net-source", state="hidden")
    page.wait_for("store.shownFrame === null || store.shownFrame.image.source === 'test'")
    page.page.click("#classify-show-layers")
    page.wait_for("store.layerSource === 'upload'")
    assert len(asked) == 2  # its maps were there already
    assert page.errors == []


def test_with_the_layer_view_on_screen_an_upload_asks_for_its_maps_at_once(page, tmp_path):
    asked = []
    page.page.on("request", lambda r: asked.append((r.method, r.url)) if "/api/classify" in r.url else None)
    page.page.locator("#panel-network").evaluate("p => p.scrollIntoView({block: 'start'})")
    page.page.wait_for_function(f"() => ({ON_SCREEN})('#network') && !({ON_SCREEN})('#panel-classify')")
    page.page.set_input_files("#classify-file", str(picture(tmp_path / "seen.png", 48, 48)))
    page.wait_for("store.upload !== null && store.layerSource === 'upload'")
    # the classify panel is off screen: the prediction and the maps only; the rest when scrolled to
    assert [method for method, _ in asked] == ["POST"] and asked[0][1].endswith("&parts=frame")
    assert page.state("store.upload.result.gradcam") is None
    page.page.locator("#panel-classify").evaluate("p => p.scrollIntoView({block: 'start'})")
    page.wait_for("store.upload.result.gradcam !== null && store.upload.result.neighbours !== null")
    assert asked[0][0] == "POST" and {method for method, _ in asked[1:]} == {"GET"}, asked
    assert page.state("store.layerSource") == "upload"  # the layer view still shows the upload
    page.page.wait_for_function("() => !document.querySelector('#classify-gradcam-note').textContent.includes('on its way')")
    assert page.errors == []


def test_the_nearest_training_images_are_shown(page, tmp_path):
    path = picture(tmp_path / "near.png", 40, 40)
    for _ in range(30):  # the feature index is built in the background, once someone watches
        page.page.set_input_files("#classify-file", str(path))
        page.page.wait_for_selector("#classify-msg[data-state=ok]")
        if page.state("store.upload.result.neighbours.items.length") > 0:
            break
        page.page.wait_for_timeout(1000)
    figures = page.page.locator("#classify-neighbours figure.neighbour")
    figures.first.wait_for()
    assert figures.count() == 8
    page.page.wait_for_function(
        "() => [...document.querySelectorAll('#classify-neighbours img')].every(i => i.complete && i.naturalWidth === 32)")
    assert page.errors == []


def test_paste_and_drop_classify_too(page):
    page.page.evaluate(MAKE_FILE)
    page.page.evaluate("""() => {
      const data = new DataTransfer();
      data.items.add(window.__upload);
      document.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true}));
    }""")
    page.wait_for("store.upload !== null && store.upload.result.image.crop.width === 90")
    page.page.evaluate("() => { window.__first = window.convscope.store.upload; }")
    page.page.evaluate("""() => {
      const data = new DataTransfer();
      data.items.add(window.__upload);
      document.querySelector("#classify-drop").dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
    }""")
    page.wait_for("store.upload !== window.__first && store.upload.result.image.crop.width === 90")
    assert page.errors == []


def test_a_bad_upload_shows_the_servers_reason(page, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("not an image at all\n")
    page.page.set_input_files("#classify-file", str(fake))
    page.page.wait_for_selector("#classify-msg[data-state=error]")
    assert "not a JPEG, PNG" in page.page.inner_text("#classify-msg")
    # console errors from the failed request (the browser logs a 415) are expected; nothing else
    assert all("415" in e for e in page.errors), page.errors


def test_a_confusion_cell_lists_its_test_images(page):
    page.wait_for("store.lastEval !== null && !!store.lastEval.confusion", timeout=60)
    page.page.locator("#eval td.cell:not(:empty)").first.click()
    thumbs = page.page.locator("#eval .eval-thumbs button.eval-thumb")
    thumbs.first.wait_for()
    head = page.page.inner_text("#eval .eval-gallery-head")  # "cat recognised: 3 test images, at ..."
    count = int(head.split(": ")[1].split()[0])
    assert thumbs.count() == min(count, 60), head
    index = int(thumbs.first.get_attribute("data-index"))
    thumbs.first.click()
    page.wait_for(f"store.probe !== null && store.probe.index === {index}")
    assert page.errors == []
