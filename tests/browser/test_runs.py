"""The Runs panel against the real server's run store: the list, the compared curves, the owner's
Resume and a refused upload, and a viewer who sees no commands (fixtures in conftest.py)."""

from __future__ import annotations

import time

# how many pixels of a canvas are each of some colours
COLOUR_COUNTS = """([selector, colours, tolerance]) => {
  const canvas = document.querySelector(selector);
  if (!canvas || !canvas.width || !canvas.height) return colours.map(() => -1);
  const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  return colours.map(([r, g, b]) => {
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] > 200 && Math.abs(d[i] - r) <= tolerance && Math.abs(d[i + 1] - g) <= tolerance
          && Math.abs(d[i + 2] - b) <= tolerance) n++;
    }
    return n;
  });
}"""
FIRST, SECOND = (37, 99, 235), (220, 38, 38)  # runs.js PALETTE[0] and [1]: the first two runs ticked


def wait_for_run(server, check, timeout: float = 60.0) -> dict:
    """Poll GET /api/run until `check(run)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        run = server.run()
        if check(run):
            return run
        assert time.monotonic() < deadline, f"the run never got there: {run}"
        time.sleep(0.2)


def open_runs(page) -> None:
    page.page.click("#runs > summary")
    page.page.wait_for_selector("#runs-rows tr[data-id]")


def row(run_id: str) -> str:
    return f"#runs-rows tr[data-id='{run_id}']"


def test_two_runs_are_listed_compared_and_the_first_resumed(new_page, live_server):
    live_server.ensure_training()
    first = live_server.run()["run_id"]
    live_server.api("/api/run/model", "POST", {"name": "lenet"})
    second = wait_for_run(live_server, lambda run: run["model"] == "lenet" and run["step"] > 10)["run_id"]
    assert second != first
    context, page = new_page(live_server)
    try:
        tab = page.page
        open_runs(page)
        tab.wait_for_selector(f"{row(first)} >> text=convnetjs")
        tab.wait_for_selector(f"{row(second)}[data-live=true] >> text=lenet")
        assert tab.get_attribute(row(first), "data-live") == "false"
        assert tab.is_checked(f"{row(second)} input[data-action=compare]")  # the live run, by default
        assert not tab.is_checked(f"{row(first)} input[data-action=compare]")
        assert tab.is_visible(f"{row(first)} button[data-action=resume]")
        assert tab.locator(f"{row(second)} button").count() == 0  # the live run: neither resumed nor deleted

        tab.check(f"{row(first)} input[data-action=compare]")
        legend = tab.locator("#runs-chart-loss .u-legend .u-series th")
        tab.wait_for_function("() => document.querySelectorAll('#runs-chart-loss .u-legend .u-series').length === 3")
        names = legend.all_inner_texts()
        assert any(n.startswith("lenet") for n in names) and any(n.startswith("convnetjs") for n in names)
        # both curves drawn, each in its own colour (poll: a busy machine may take some frames)
        for _ in range(50):
            counts = tab.evaluate(COLOUR_COUNTS, ["#runs-chart-loss canvas", [FIRST, SECOND], 40])
            if min(counts) > 20:
                break
            tab.wait_for_timeout(200)
        assert min(counts) > 20, f"the compared loss curves cover {counts} pixels (blue, red)"
        assert tab.evaluate("() => document.querySelectorAll('#runs-chart-acc .u-legend .u-series').length") == 3

        tab.click(f"{row(first)} button[data-action=resume]")
        tab.wait_for_selector(f"{row(first)}[data-live=true]")
        tab.wait_for_selector(f"{row(second)}[data-live=false]")
        page.wait_for(f"store.run.run_id === '{first}' && store.run.model === 'convnetjs'")
        assert tab.get_attribute("#runs-msg", "data-state") == "ok"
        assert tab.is_visible(f"{row(second)} button[data-action=resume]")

        # a file that is not a checkpoint: the server's reason, inline
        tab.set_input_files("#runs-upload", files=[{"name": "broken.pt", "mimeType": "application/octet-stream",
                                                     "buffer": b"not a checkpoint" * 64}])
        tab.wait_for_selector("#runs-msg[data-state=error]")
        assert tab.inner_text("#runs-msg").startswith("Not uploaded: ")
        assert live_server.run()["run_id"] == first
        assert [e for e in page.errors if "422" not in e] == []  # the browser logs the refused upload
    finally:
        context.close()


def test_a_viewer_sees_the_runs_but_no_commands(new_page, live_server):
    if sum(not r["live"] for r in live_server.api("/api/runs")[1]["runs"]) == 0:
        live_server.api("/api/run/model", "POST", {"name": "lenet"})  # a run besides the live one
    live_server.ensure_training()
    context, page = new_page(live_server, owner=False)
    try:
        tab = page.page
        tab.wait_for_selector("#access:not([hidden])")
        open_runs(page)
        tab.wait_for_selector("#runs-rows tr[data-live=false]")
        assert tab.locator("#runs-rows tr[data-id]").count() >= 2
        buttons = tab.locator("#runs-rows button[data-action]")
        assert buttons.count() > 0  # there, for the owner's page; hidden here
        assert not any(buttons.nth(i).is_visible() for i in range(buttons.count()))
        assert not tab.is_visible("#runs-tools") and not tab.is_visible("label[for=runs-upload]")
        assert tab.is_visible("#runs-rows input[data-action=compare]")
        assert page.errors == []
    finally:
        context.close()
