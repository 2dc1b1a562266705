"""Accessibility in a real browser (fixtures in conftest.py): axe-core's WCAG 2.0 and 2.1 A and AA
rules on every page (the live page as a viewer and as the owner, each lesson), on a laptop and on a
phone, as it loads and in use; and the main controls reached with Tab and worked with Enter and
Space.

axe-core is a test tool, not part of the page: `scripts/fetch_test_tools.sh` fetches its pinned
version into tests/browser/vendor/ (git-ignored). Without it the axe tests skip, saying so; under
CI=true they fail.

    scripts/fetch_test_tools.sh && python -m pytest tests/browser/test_a11y.py -q
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from support import unavailable

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "browser" / "vendor" / "axe-core" / "axe.min.js"
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
VIEWPORT = {"width": 1366, "height": 900}  # conftest.VIEWPORT
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}  # conftest.PHONE
LESSONS = ["/learn/conv", "/learn/pool", "/learn/cost"]  # and any other the pages link to
LESSON_READY = {"/learn/conv": "#conv-output .out-cell", "/learn/pool": "#pool-output .out-cell",
                "/learn/cost": ".cost-side .layer-table"}
TABS = 400  # Tab presses allowed to reach one control (the confusion matrix alone has 100 cells)


@pytest.fixture(scope="session")
def axe() -> str:
    """axe-core's source; the tests ask for it first, so that without it they skip before a server starts."""
    if not AXE.is_file():
        unavailable(f"axe-core is missing ({AXE.relative_to(ROOT)})", "run scripts/fetch_test_tools.sh to fetch it")
    return AXE.read_text()


def violations(tab, axe: str) -> list[str]:
    """axe-core's WCAG 2 A and AA violations on the page as it is now, one line per element."""
    tab.evaluate(axe + "\n;0")  # evaluate() is not bound by the page's CSP, a <script> would be
    report = tab.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
                          WCAG_A_AA)
    return [f"{v['id']} ({v['impact']}) at {' '.join(map(str, node['target']))}: "
            + " ".join(node["failureSummary"].split())
            for v in report["violations"] for node in v["nodes"]]


def picture(path):
    yy, xx = np.mgrid[0:80, 0:120]
    rgb = np.stack([255 * xx / 120, 255 * yy / 80, 128 + 100 * np.sin(xx / 5.0)], -1)
    Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def linked_lessons(tab) -> set[str]:
    return set(tab.eval_on_selector_all(".learn-nav a[href^='/learn/']", "links => links.map(a => a.getAttribute('href'))"))


def drawn(page) -> None:
    """Wait until the live page has drawn its views: charts, layers, predictions, confusion matrix."""
    page.wait_for("store.train.length > 2 && store.frame !== null && store.lastEval !== null"
                  " && !!store.lastEval.confusion", timeout=60)
    for selector in ("#network article.layer canvas.blob-canvas", "#predictions figure", "#eval table.confusion"):
        page.page.wait_for_selector(selector)


@pytest.mark.parametrize("phone", [False, True], ids=["laptop", "phone"])
@pytest.mark.parametrize("owner", [False, True], ids=["viewer", "owner"])
def test_the_live_page_meets_wcag_a_and_aa(axe, new_page, live_server, owner, phone):
    context, page = new_page(live_server, owner=owner, phone=phone)
    try:
        page.page.wait_for_selector("#access:not([hidden])")
        drawn(page)
        if owner:
            page.page.wait_for_selector("#editor-table")
        assert violations(page.page, axe) == []
        assert page.errors == []
    finally:
        context.close()


@pytest.mark.parametrize("phone", [False, True], ids=["laptop", "phone"])
def test_the_live_page_in_use_meets_wcag_a_and_aa(axe, new_page, live_server, phone, tmp_path):
    """As the owner: paused, a photo classified, the runs listed, a confusion cell's images shown, a
    bad learning rate refused and a broken draft in the editor; then resumed."""
    context, page = new_page(live_server, phone=phone)
    tab = page.page
    try:
        drawn(page)
        tab.click("#btn-pause")
        page.wait_for("store.run.status === 'paused'")
        tab.set_input_files("#classify-camera" if phone else "#classify-file", str(picture(tmp_path / "in-use.jpg")))
        tab.wait_for_selector("#classify-msg[data-state=ok]")
        tab.click("#runs > summary")
        tab.wait_for_selector("#runs-rows tr td")
        tab.locator("#eval td.cell:not(:empty)").first.click()
        tab.locator("#eval .eval-thumbs button.eval-thumb").first.wait_for()
        tab.fill("#hp-lr", "-1")
        tab.press("#hp-lr", "Enter")
        tab.wait_for_selector("#hyper-msg[data-state=error]")
        tab.fill("#editor-layers li[data-index='4'] input[data-field='size']", "64")
        tab.wait_for_selector("#editor-result[data-stale=true]")
        assert violations(tab, axe) == []
        tab.click("#btn-pause")
        page.wait_for("store.run.status === 'training'")
        tab.wait_for_selector("#run-msg[data-state=ok]")
        assert violations(tab, axe) == []
        # console errors from the refused learning rate (the browser logs a 422) are expected
        assert all("422" in e for e in page.errors), page.errors
    finally:
        context.close()
        live_server.ensure_training()


def use_lesson(tab, path: str) -> bool:
    """Do what a learner does on a lesson page with its own controls; whether there was anything."""
    if path == "/learn/conv":
        tab.click("#conv-classic")
        tab.click("#conv-next")
        tab.click("#conv-next")
    elif path == "/learn/pool":
        tab.fill("#pool-pad", "1")
        tab.click("#pool-next")
    elif path == "/learn/cost":
        tab.fill("#bottleneck-channels", "0")  # refused: the lab shows the server's reason
        tab.wait_for_selector(".cost-lab[data-lab=bottleneck][data-state=error]")
    else:
        return False
    tab.wait_for_timeout(300)  # the page redraws on input
    return True


@pytest.mark.parametrize("phone", [False, True], ids=["laptop", "phone"])
def test_every_lesson_page_meets_wcag_a_and_aa(axe, browser, live_server, phone):
    context = browser.new_context(**PHONE) if phone else browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    try:
        tab.goto(live_server.url + "/")
        lessons = LESSONS + sorted(linked_lessons(tab) - set(LESSONS))
        found: dict[str, list[str]] = {}
        for path in lessons:  # grows with any lesson only the lessons link to
            tab.goto(live_server.url + path)
            tab.wait_for_load_state("networkidle")
            lessons += sorted(linked_lessons(tab) - set(lessons))
            if path in LESSON_READY:
                tab.wait_for_selector(LESSON_READY[path])
            found[path] = violations(tab, axe)
            if use_lesson(tab, path):
                found[f"{path} in use"] = violations(tab, axe)
        assert {path: v for path, v in found.items() if v} == {}
        assert set(LESSONS) <= set(found)
        assert errors == []
    finally:
        context.close()


def test_axe_finds_what_it_should(axe, browser, live_server):
    """The check itself: given a pale caption and a button inside a button (the live page's two
    faults before they were fixed), axe reports color-contrast and nested-interactive, so an empty
    report means something."""
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    try:
        tab.goto(live_server.url + "/learn/pool")
        tab.wait_for_selector(LESSON_READY["/learn/pool"])
        tab.evaluate("""() => {
          const caption = document.querySelector('.lesson .caption');
          caption.id = 'pale';
          caption.style.color = '#9ca3af';
          const outer = document.createElement('div');
          outer.id = 'outer';
          outer.setAttribute('role', 'button');
          outer.tabIndex = 0;
          outer.append(Object.assign(document.createElement('button'), {textContent: 'inner'}));
          document.querySelector('.lesson').append(outer);
        }""")
        found = violations(tab, axe)
        assert any(v.startswith("color-contrast ") and "#pale" in v for v in found), found
        assert any(v.startswith("nested-interactive ") and "#outer" in v for v in found), found
    finally:
        context.close()


def tab_to(tab, selector: str) -> int:
    """Press Tab until the focus is on `selector`; how many presses it took."""
    seen = []
    for presses in range(1, TABS + 1):
        tab.keyboard.press("Tab")
        if tab.evaluate("(s) => document.activeElement.matches(s)", selector):
            return presses
        seen.append(tab.evaluate("() => { const e = document.activeElement; return e.id || e.tagName.toLowerCase(); }"))
    pytest.fail(f"{TABS} Tabs did not reach {selector}; the focus went to {seen[:60]}...")


def test_the_main_controls_work_from_the_keyboard(page, tmp_path):
    """As the owner, from the top of the page: Tab reaches the lesson links, pause, the upload, the
    runs panel and the confusion matrix, in the page's order, and Enter and Space work them (a file
    input opens its chooser on Space, as browsers do)."""
    tab = page.page
    # Playwright turns on catching file choosers when the first listener comes, without waiting for
    # the browser: listening from the start, the one expected below cannot open before it is caught
    tab.on("filechooser", lambda chooser: None)
    drawn(page)
    tab.wait_for_function("() => !document.querySelector('#btn-pause').disabled")
    tab.evaluate("() => document.activeElement.blur()")
    assert tab_to(tab, ".learn-nav a[href='/learn/conv']") == 1  # the top bar's lesson links come first
    tab_to(tab, "#btn-pause")
    tab.keyboard.press("Enter")
    page.wait_for("store.run.status === 'paused'")
    tab.wait_for_function("() => document.querySelector('#btn-pause').textContent === 'Resume'")
    # the button still has the focus (disabled while its command was on its way, it lost it to the page)
    assert tab.evaluate("() => document.activeElement.id") == "btn-pause"
    tab.keyboard.press("Space")
    page.wait_for("store.run.status === 'training'")
    assert tab.evaluate("() => document.activeElement.id") == "btn-pause"
    # the upload: the file input itself takes the focus (its label is what shows) and opens the chooser
    tab_to(tab, "#classify-file")
    assert tab.evaluate("() => getComputedStyle(document.querySelector('label[for=classify-file]')).outlineStyle") != "none"
    with tab.expect_file_chooser() as chooser:
        tab.keyboard.press("Space")
    chooser.value.set_files(str(picture(tmp_path / "keyboard.jpg")))
    tab.wait_for_selector("#classify-msg[data-state=ok]")
    # a panel's toggle: the runs list opens with Enter and closes with Space
    tab_to(tab, "#runs > summary")
    tab.keyboard.press("Enter")
    tab.wait_for_selector("#runs[open]")
    tab.keyboard.press("Space")
    tab.wait_for_selector("#runs:not([open])")
    # the confusion matrix: a cell lists its test images on Enter, and a redraw keeps the focus there
    tab_to(tab, "#eval td.cell")
    cell = tab.evaluate("() => [document.activeElement.dataset.truth, document.activeElement.dataset.predicted]")
    tab.keyboard.press("Enter")
    tab.wait_for_selector("#eval .eval-gallery-head")
    step = page.state("store.lastEval.step")
    page.wait_for(f"store.lastEval.step > {step}", timeout=60)  # the next evaluation redraws the table
    tab.wait_for_timeout(200)
    assert tab.evaluate("() => [document.activeElement.dataset.truth, document.activeElement.dataset.predicted]") == cell
    assert page.errors == []


def test_a_lesson_works_from_the_keyboard(browser, live_server):
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    try:
        tab.goto(live_server.url + "/learn/conv")
        tab.wait_for_selector(LESSON_READY["/learn/conv"])
        tab_to(tab, "#conv-next")
        first = tab.inner_text("#conv-calc")
        tab.keyboard.press("Enter")
        tab.wait_for_function("(t) => document.querySelector('#conv-calc').innerText !== t", arg=first)
        tab_to(tab, "#conv-play")
        tab.keyboard.press("Space")
        tab.wait_for_selector("#conv-play[aria-pressed=true]")
        tab.keyboard.press("Space")
        tab.wait_for_selector("#conv-play[aria-pressed=false]")
    finally:
        context.close()
