"""The teaching layer in a real browser against the real server (fixtures in conftest.py): the
network editor on the live page, the convolution and pooling explorers and the cost lab.

    python -m pytest tests/browser/test_teach.py -q
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F

from convscope.models.layers import TYPES

VIEWPORT = {"width": 1366, "height": 900}

STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
              "connect-src 'self'")


@contextmanager
def lesson(browser, server, topic: str):
    """A fresh tab on /learn/<topic>, served under a strict CSP; yields (tab, errors)."""
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))

    def with_csp(route):
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})

    tab.route(f"{server.url}/learn/{topic}", with_csp)
    tab.goto(f"{server.url}/learn/{topic}")
    try:
        yield tab, errors
    finally:
        context.close()


def test_editor_pins_a_broken_spec_to_its_layer_and_trains_a_fixed_one(page):
    p = page.page
    p.wait_for_selector("#editor-layers li[data-index='11']")  # the live convnetjs: 12 layers
    p.wait_for_selector("#editor-table")
    types = p.locator("#editor-layers li[data-index='4'] select.ed-type")
    assert types.locator("option").all_inner_texts() == list(TYPES)  # every layer type, from GET /api/layers
    assert types.input_value() == "conv" and types.get_attribute("title") == TYPES["conv"].about
    size = p.locator("#editor-layers li[data-index='4'] input[data-field='size']")
    size.fill("64")
    p.wait_for_selector("#editor-layers li[data-index='4'][data-invalid='true'] .ed-error")
    assert p.inner_text("#editor-layers li[data-index='4'] .ed-error") == \
        "layer 4 (conv): kernel 64 is larger than its input 16x16 with pad 2"
    assert p.locator("#editor-layers li[data-invalid='true']").count() == 1
    assert p.get_attribute("#editor-msg", "data-state") == "error" and p.is_disabled("#editor-apply")

    size.fill("3")
    p.wait_for_function("() => !document.querySelector('#editor-layers li[data-invalid]')"
                        " && !document.querySelector('#editor-apply').disabled")
    # conv 3x3, 20 filters, pad 2 on 16x16x16: (16 + 4 - 3) + 1 = 18; 16*9*20 + 20 parameters
    cells = p.locator("#editor-table tr[data-path='4'] td")
    assert [cells.nth(k).inner_text() for k in range(1, 5)] == [
        "conv 3x3, 20 filters, pad 2", "20×18×18", "2,900", f"{20 * 18 * 18 * 16 * 9:,}"]
    assert "INPUT - [(CONV-RELU)*1 - POOL]*3 - FC - SOFTMAX" in p.inner_text("#editor-pattern")
    assert p.locator("#editor-diagram > .dg-box").count() == 12

    p.fill("#editor-name", "convnetjs-3x3")
    p.click("#editor-apply")
    page.wait_for("store.run.model === 'convnetjs-3x3' && store.layers.length === 12"
                  " && store.layers[4].name === 'conv 3x3, 20 filters, pad 2'")
    status, live = page.server.api("/api/run/model")
    assert status == 200 and live["name"] == "convnetjs-3x3" and live["spec"][4]["size"] == 3
    p.wait_for_selector("#editor-apply-msg[data-state=ok]")
    assert [e for e in page.errors if "status of 422" not in e] == []  # the refused check is logged by the browser


def test_editor_loads_presets_with_notes_and_takes_raw_json(page):
    p = page.page
    links = p.locator("nav.learn-nav a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
    assert links == ["/learn/conv", "/learn/pool", "/learn/cost", "/learn/slide"]
    p.wait_for_selector("#editor-table")
    p.wait_for_selector("#editor-source option[value='resnet-mini']", state="attached")
    p.select_option("#editor-source", "resnet-mini")
    p.wait_for_selector("#editor-pattern[data-fits='false']")
    assert p.inner_text("#editor-note").startswith("ResNet adds each block's input to its output")
    assert "layers 4, 5, 6 (residual)" in p.inner_text("#editor-pattern")
    assert p.input_value("#editor-name") == "resnet-mini"

    p.click("#editor-tab-json")
    p.fill("#editor-json", '[{"type": "conv", "filters": 8, "size": 3}, {"type": "fc", "unit": 10}]')
    p.wait_for_function("() => document.querySelector('#editor-msg').textContent.includes('did you mean')")
    assert p.inner_text("#editor-msg") == 'layer 1 (fc): unknown field "unit" (did you mean "units"?)'
    p.fill("#editor-json", '[{"type": "conv"')
    p.wait_for_selector("#editor-json[data-state='error']")
    assert p.inner_text("#editor-msg").startswith("JSON:")
    p.click("#editor-tab-form")  # refused until the JSON parses
    assert p.is_visible("#editor-json") and "Fix the JSON first" in p.inner_text("#editor-msg")

    p.fill("#editor-json", '[{"type": "conv", "filters": 8, "size": 3}, {"type": "relu"}, {"type": "fc", "units": 10}]')
    p.wait_for_selector("#editor-msg[data-state='ok']")
    assert "Fits, with N = 1, M = 1, K = 0." in p.inner_text("#editor-pattern")
    p.click("#editor-tab-form")
    assert p.locator("#editor-layers li").count() == 3
    assert p.input_value("#editor-layers li[data-index='0'] input[data-field='filters']") == "8"
    assert p.input_value("#editor-name") == "resnet-mini-edited"
    assert [e for e in page.errors if "status of 422" not in e] == []


def test_convolution_explorer_steps_and_sums_like_torch(browser, live_server):
    with lesson(browser, live_server, "conv") as (tab, errors):
        tab.wait_for_selector("#conv-result")
        # the classic example: a 5x5x3 input padded to 7x7x3, two 3x3x3 filters, stride 2 -> 3x3x2
        assert tab.inner_text("#conv-output-dims") == "3×3×2"
        assert tab.locator("#conv-input td.pad").count() == 3 * (49 - 25)

        def torch_output():
            state = tab.evaluate("() => window.convExplorer.state")
            x, w, b = (torch.tensor(state[k], dtype=torch.float64) for k in ("input", "weights", "biases"))
            return F.conv2d(x[None], w, b if state["bias"] else None, stride=state["stride"], padding=state["pad"])[0]

        def shown():
            return float(tab.get_attribute("#conv-result", "data-value"))

        want = torch_output()
        for _ in range(5):
            tab.click("#conv-next")
        assert tab.evaluate("() => window.convExplorer.cell()") == [0, 1, 2]
        assert shown() == want[0, 1, 2].item()
        assert tab.locator("#conv-calc .term").count() == 27 and tab.locator("#conv-input td.rf").count() == 27
        assert tab.inner_text("#conv-output button.current") == f"{want[0, 1, 2].item():g}"
        cells = tab.locator("#conv-output button.out-cell")
        assert [float(t) for t in cells.all_inner_texts()] == want.flatten().tolist()

        tab.click('#conv-output button[data-f="1"][data-y="2"][data-x="0"]')
        assert shown() == want[1, 2, 0].item()
        tab.keyboard.press("ArrowRight")  # to (1, 2, 1)
        assert shown() == want[1, 2, 1].item()

        # type a value into the receptive field: the sum follows
        tab.fill('#conv-input td[data-c="2"][data-i="5"][data-j="3"] input', "10")
        assert shown() == torch_output()[1, 2, 1].item() != want[1, 2, 1].item()

        # stride 1: a 5x5x2 output; no biases
        tab.fill("#conv-stride", "1")
        tab.uncheck("#conv-bias")
        assert tab.inner_text("#conv-output-dims") == "5×5×2"
        tab.click('#conv-output button[data-f="0"][data-y="4"][data-x="4"]')
        assert shown() == torch_output()[0, 4, 4].item()
        assert errors == []


def test_pooling_explorer_max_and_average_without_parameters(browser, live_server):
    with lesson(browser, live_server, "pool") as (tab, errors):
        tab.wait_for_selector("#pool-result")
        cells = tab.locator("#pool-output button.out-cell")
        assert cells.all_inner_texts() == ["6", "8", "3", "4"]  # 2x2 max pooling, stride 2
        tab.click("#pool-next")
        assert tab.inner_text("#pool-calc .calc-total") == "max(2, 4, 7, 8) = 8"
        assert tab.inner_text("#pool-param-count") == "0"
        tab.select_option("#pool-mode", "avg")
        assert cells.all_inner_texts() == ["3.25", "5.25", "2", "2"]
        # a 3x3 window with stride 1 overlaps: 2x2 outputs, each the mean of 9 values
        tab.fill("#pool-size", "3")
        tab.fill("#pool-stride", "1")
        state = tab.evaluate("() => window.poolExplorer.state")
        want = F.avg_pool2d(torch.tensor(state["matrix"], dtype=torch.float64)[None], 3, 1)[0]
        assert [float(t) for t in cells.all_inner_texts()] == [round(v, 3) for v in want.flatten().tolist()]
        # editing the matrix: the max follows
        tab.select_option("#pool-mode", "max")
        tab.fill('#pool-input td[data-i="1"][data-j="1"] input', "50")
        assert cells.all_inner_texts() == ["50", "50", "50", "50"]
        assert errors == []


def test_cost_lab_shows_the_googlenet_numbers(browser, live_server):
    with lesson(browser, live_server, "cost") as (tab, errors):
        card = tab.locator("section.cost-lab[data-lab='bottleneck']")
        card.locator(".cost-side").nth(1).wait_for()
        text = card.inner_text()
        assert "MACs: 160,563,200 (160.6M)" in text
        assert "MACs: 3,211,264 + 40,140,800 = 43,352,064 (43.35M)" in text
        assert "44.8" not in text and "4.8M" not in text  # the slide's slip
        assert "3.7× fewer MACs" in card.locator(".cost-verdict").inner_text()
        # change the setup: a 1x1 reduction to 16 channels
        tab.fill("#bottleneck-reduce", "16")
        tab.wait_for_selector("section[data-lab='bottleneck'] h3:has-text('1x1 conv down to 16 channels')")
        reduced = 28 * 28 * 16 * 128 + 28 * 28 * 64 * 25 * 16
        assert f"= {reduced:,}" in card.inner_text()
        # the other labs drew too, and a bad setup is refused with the server's reason
        assert "1,216" in tab.inner_text("section[data-lab='fc-vs-conv']")
        tab.fill("#small-filters-size", "4")
        tab.wait_for_selector("section[data-lab='small-filters'] .form-msg[data-state='error']")
        assert "size must be odd" in tab.inner_text("section[data-lab='small-filters'] .form-msg")
        assert [e for e in errors if "status of 422" not in e] == []
