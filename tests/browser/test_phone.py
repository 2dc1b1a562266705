"""The pages on a phone, as a classroom's students watch them (fixtures in conftest.py): 390 CSS
pixels wide, touch. No page scrolls sideways; the live page shows the charts and "classify your
own image" first; a photo taken with the camera is classified like an upload.

    python -m pytest tests/browser/test_phone.py -q
"""

from __future__ import annotations

import numpy as np
from PIL import Image

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}  # conftest.PHONE
LESSONS = ["/learn/conv", "/learn/pool", "/learn/cost"]  # and any other the pages link to
SCROLL_WIDTH = "() => document.documentElement.scrollWidth"
# the page's panels as (id, top, bottom) in their order on screen, hidden ones left out
PANELS_ON_SCREEN = """() => [...document.querySelectorAll('.panel')]
  .filter((p) => p.offsetParent !== null)
  .map((p) => { const r = p.getBoundingClientRect(); return [p.id, r.top, r.bottom]; })
  .sort((a, b) => a[1] - b[1])"""
# each lesson page's content, drawn by its script once the page has loaded
LESSON_READY = {"/learn/conv": "#conv-output .out-cell", "/learn/pool": "#pool-output .out-cell",
                "/learn/cost": ".cost-side .layer-table"}


def photo(path):
    """A 120x80 JPEG, like a phone's photo but small."""
    yy, xx = np.mgrid[0:80, 0:120]
    rgb = np.stack([255 * xx / 120, 255 * yy / 80, 128 + 100 * np.sin(xx / 5.0)], -1)
    Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def linked_lessons(tab) -> set[str]:
    """The lesson pages the open page's top bar links to."""
    return set(tab.eval_on_selector_all(".learn-nav a[href^='/learn/']", "links => links.map(a => a.getAttribute('href'))"))


def test_no_page_scrolls_sideways_on_a_phone(browser, new_page, live_server, tmp_path):
    context, page = new_page(live_server, owner=False, phone=True)
    try:
        tab = page.page
        # everything the live page draws: layers, predictions, the confusion matrix, an upload's result
        page.wait_for("store.frame !== null && store.lastEval !== null && !!store.lastEval.confusion", timeout=60)
        tab.wait_for_selector("#network article.layer canvas.blob-canvas")
        tab.wait_for_selector("#predictions figure")
        tab.wait_for_selector("#eval table.confusion")
        tab.set_input_files("#classify-file", str(photo(tmp_path / "photo.jpg")))
        tab.wait_for_selector("#classify-msg[data-state=ok]")
        tab.wait_for_selector("#classify-result", state="visible")
        tab.click("#runs > summary")
        tab.wait_for_selector("#runs-rows tr")
        assert tab.evaluate(SCROLL_WIDTH) <= 390, "the live page scrolls sideways on a phone"
        lessons = LESSONS + sorted(linked_lessons(tab) - set(LESSONS))
        assert page.errors == []
    finally:
        context.close()
    context = browser.new_context(**PHONE)
    try:
        tab = context.new_page()
        for path in lessons:
            tab.goto(live_server.url + path)
            tab.wait_for_load_state("networkidle")
            lessons += sorted(linked_lessons(tab) - set(lessons))  # a lesson only the lessons link to
            if path in LESSON_READY:
                tab.wait_for_selector(LESSON_READY[path])
            assert tab.evaluate(SCROLL_WIDTH) <= 390, f"{path} scrolls sideways on a phone"
    finally:
        context.close()


def test_a_viewer_on_a_phone_sees_the_charts_and_the_classifier_first(new_page, live_server):
    context, page = new_page(live_server, owner=False, phone=True)
    try:
        tab = page.page
        tab.wait_for_selector("#access:not([hidden])")
        page.wait_for("store.frame !== null")
        # in reading order: the live views start with the charts and the classifier
        order = tab.eval_on_selector_all("main .panel", "panels => panels.map(p => p.id)")
        assert order[:2] == ["panel-charts", "panel-classify"], order
        # and on screen: above every other panel, the sidebar's included (it comes last on a phone)
        shown = tab.evaluate(PANELS_ON_SCREEN)
        assert [p[0] for p in shown[:2]] == ["panel-charts", "panel-classify"], shown
        classifier_bottom = shown[1][2]
        assert all(top >= classifier_bottom for _, top, _ in shown[2:]), shown
        assert "panel-hyper" in [p[0] for p in shown[2:]]
        # the first screenful holds the charts' heading and the loss chart
        assert tab.locator("#chart-loss").bounding_box()["y"] < 844
        assert page.errors == []
    finally:
        context.close()


def test_a_photo_taken_with_the_camera_is_classified(new_page, live_server, tmp_path):
    context, page = new_page(live_server, owner=False, phone=True)
    try:
        tab = page.page
        camera = tab.locator("#classify-camera")
        assert camera.get_attribute("capture") == "environment" and camera.get_attribute("accept") == "image/*"
        assert tab.is_visible("label[for=classify-camera]")
        assert tab.inner_text("label[for=classify-camera]") == "Take a photo"
        camera.set_input_files(str(photo(tmp_path / "camera.jpg")))
        page.wait_for("store.upload !== null")
        tab.wait_for_selector("#classify-msg[data-state=ok]")
        assert tab.locator("#classify-bars li.bar").count() == 10
        top = page.state("store.upload.result.top[0]")
        assert tab.inner_text("#classify-msg").startswith(top["class"])
        assert page.state("store.upload.result.image.crop.width") == 120
        assert camera.input_value() == ""  # the same photo taken again is classified again
        assert tab.evaluate(SCROLL_WIDTH) <= 390
        assert page.errors == []
    finally:
        context.close()


def test_a_laptop_is_offered_a_file_not_the_camera(page):
    # a mouse drops, pastes or chooses a file (a desktop browser's "camera" input opens a file chooser)
    assert page.page.is_visible("label[for=classify-file]")
    assert not page.page.is_visible("label[for=classify-camera]")
    assert page.page.is_visible("#classify-drop .drop-hint") and not page.page.is_visible("#classify-drop .touch-hint")
