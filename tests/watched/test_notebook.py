"""convscope.watch in a real Jupyter kernel: a notebook built here (nbformat) is executed cell by
cell (nbclient, ipykernel) by a kernel of this test's own interpreter, so the installed convscope.
Between the cells the test reads the page the kernel serves, as a browser beside the notebook would."""

from __future__ import annotations

import json
import re
import sys

import httpx
import pytest

from support import unavailable, until

try:
    import ipykernel.kernelspec
    import jupyter_client.kernelspec
    import jupyter_client.manager
    import nbclient
    import nbformat
except ImportError as e:
    MISSING = e.name or str(e)
else:
    MISSING = None

STEPS = 200
CELL_TIMEOUT = 60  # seconds a cell may take (CI machines are slow and shared)

WATCH = """\
import asyncio, threading
import torch
from torch import nn
import convscope

try:
    asyncio.get_running_loop()
    loop = "running"
except RuntimeError:
    loop = "none"
print(f"main thread: {threading.current_thread() is threading.main_thread()}, event loop: {loop}")

def batches(seed=0, size=16):
    # endless 1x28x28 images whose class is which quarter is bright: learnable fast
    g = torch.Generator().manual_seed(seed)
    while True:
        y = torch.randint(0, 4, (size,), generator=g)
        x = torch.randn(size, 1, 28, 28, generator=g) * 0.3
        for i, c in enumerate(y.tolist()):
            x[i, 0, (c // 2) * 14:(c // 2) * 14 + 14, (c % 2) * 14:(c % 2) * 14 + 14] += 1.5
        yield x, y

torch.set_num_threads(1)  # a tiny model: more threads only wait for each other on a busy machine
torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                      nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                      nn.ReLU(), nn.Linear(84, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
probe, labels = next(batches(seed=1, size=8))
viz = convscope.watch(model, probe, labels, [f"class {i}" for i in range(10)], optimizer=opt,
                      port=0, runs_dir=RUNS_DIR)
"""

TRAIN = f"""\
for step, (x, y) in zip(range(1, {STEPS} + 1), batches()):
    opt.zero_grad()
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, y)
    loss.backward()
    opt.step()
    viz.log(step, loss=loss, accuracy=(logits.argmax(1) == y).float().mean(), batch_size=len(x))
print(f"trained {{step}} steps, loss {{loss.item():.3f}}")
"""

CHECK = f"""\
import json, time, urllib.request

deadline = time.monotonic() + 30
while True:
    with urllib.request.urlopen(viz.url.split("?")[0] + "api/run", timeout=10) as response:
        run = json.load(response)
    if run["step"] >= {STEPS} or time.monotonic() > deadline:
        break
    time.sleep(0.05)
print("kernel sees", json.dumps({{"step": run["step"], "status": run["status"], "run_id": run["run_id"]}}))
print(viz.url)
"""

CLOSE = """\
viz.close()
print("closed")
"""

# the frame is addressed as localhost, the usual notebook's own site: its owner cookie (SameSite) then reaches it
IFRAME = re.compile(r'<iframe\b[^>]*\ssrc="http://localhost:(\d+)/\?token=([\w-]+)"')


@pytest.fixture
def jupyter() -> None:
    """nbformat, nbclient and ipykernel (the test extra): missing, the test is skipped, or under CI fails."""
    if MISSING:
        unavailable(f"{MISSING} is not installed", "pip install -e '.[test]'")


def texts(cell, name: str) -> str:
    """All of a cell's stream output called `name` (stdout or stderr), joined."""
    return "".join(o["text"] for o in cell.outputs if o["output_type"] == "stream" and o["name"] == name)


def html(cell) -> list[str]:
    return [o["data"]["text/html"] for o in cell.outputs
            if o["output_type"] in ("display_data", "execute_result") and "text/html" in o.get("data", {})]


def errors(cell) -> str:
    return "\n".join(f"{o['ename']}: {o['evalue']}" for o in cell.outputs if o["output_type"] == "error")


def shown(cell) -> tuple[str, int]:
    """The watch cell showed the page inline (an iframe of the owner's address and a link to it)
    and printed that address: the address and its port."""
    frames = [m for h in html(cell) for m in IFRAME.finditer(h)]
    assert len(frames) == 1, cell.outputs
    port, token = int(frames[0].group(1)), frames[0].group(2)
    url = f"http://127.0.0.1:{port}/?token={token}"
    assert any(f'<a href="{url}"' in h and 'target="_blank"' in h for h in html(cell)), cell.outputs
    assert f"is live at {url}" in texts(cell, "stderr")
    return url, port


def test_a_notebook_shows_the_page_inline_and_its_kernel_serves_it(jupyter, tmp_path, monkeypatch):
    # the kernel: this interpreter, from a kernelspec of the test's own (not whatever `python3` names globally)
    ipykernel.kernelspec.write_kernel_spec(tmp_path / "kernels/python3")
    specs = jupyter_client.kernelspec.KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    km = jupyter_client.manager.AsyncKernelManager(kernel_name="python3", kernel_spec_manager=specs)
    assert km.kernel_spec.argv[0] == sys.executable
    assert km.kernel_spec.resource_dir == str(tmp_path / "kernels/python3")
    for name, folder in (("IPYTHONDIR", "ipython"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                         ("JUPYTER_CONFIG_DIR", "jupyter-config")):
        monkeypatch.setenv(name, str(tmp_path / folder))  # the kernel keeps out of ~/.ipython and ~/.jupyter

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in
                (f"RUNS_DIR = {str(tmp_path / 'runs')!r}\n" + WATCH, TRAIN, CHECK, CLOSE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.validate(nb)
    client = nbclient.NotebookClient(nb, km=km, kernel_name="python3", timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(tmp_path)}})

    def run(index: int):
        cell = client.execute_cell(nb.cells[index], index)
        assert not errors(cell), errors(cell)
        return cell

    # the kernel manager is ours, so the client would leave the kernel running: cleanup_kc shuts it down
    with client.setup_kernel(cleanup_kc=True):
        watched = run(0)
        assert "main thread: True, event loop: running" in texts(watched, "stdout")  # Jupyter's own loop
        url, port = shown(watched)
        base = url.split("?")[0]
        first = httpx.get(base + "api/run", timeout=10).json()  # the kernel's page, from outside it
        assert first["source"] == "watch" and first["status"] == "training" and first["step"] < STEPS

        trained = run(1)
        assert f"trained {STEPS} steps" in texts(trained, "stdout")
        after = until(lambda: (r := httpx.get(base + "api/run", timeout=10).json())["step"] >= STEPS and r)
        assert after["run_id"] == first["run_id"] and after["step"] == STEPS > first["step"]

        checked = run(2)
        out = texts(checked, "stdout")
        assert url in out.splitlines()
        seen = json.loads(re.search(r"kernel sees (\{.*\})", out).group(1))
        assert seen == {"step": STEPS, "status": "training", "run_id": first["run_id"]}

        # the page may be shown in a frame of a notebook on this machine: the redirect that sets
        # the owner's cookie and the page it leads to alike
        redirect = httpx.get(url, timeout=10)
        page = httpx.get(url, timeout=10, follow_redirects=True)
        assert redirect.status_code == 303 and page.status_code == 200 and "<html" in page.text.lower()
        for response in (redirect, page):
            policy = response.headers["content-security-policy"]
            ancestors = re.search(r"frame-ancestors ([^;]*)", policy).group(1).split()
            assert "http://localhost:*" in ancestors and "http://127.0.0.1:*" in ancestors
            assert "'none'" not in ancestors
            assert "x-frame-options" not in response.headers  # DENY, or SAMEORIGIN: the notebook's port differs

        # the watch cell run again: a new run on the same page (same port), the first one closed
        again = run(0)
        url_again, port_again = shown(again)
        assert "replaces the run" in texts(again, "stderr")
        assert port_again == port and url_again == url
        second = until(lambda: (r := httpx.get(base + "api/run", timeout=10).json())["run_id"] != first["run_id"] and r)
        assert second["status"] == "training"
        run(1)
        until(lambda: httpx.get(base + "api/run", timeout=10).json()["step"] >= STEPS)
        kept = httpx.get(f"{base}api/runs/{first['run_id']}/history", timeout=10).json()
        assert kept["run"]["step"] == STEPS and not kept["run"]["live"] and kept["run"]["status"] != "training"

        closed = run(3)
        assert "closed" in texts(closed, "stdout")
        ended = until(lambda: (r := httpx.get(base + "api/run", timeout=10).json())["status"] == "finished" and r)
        assert ended["run_id"] == second["run_id"]
    with pytest.raises(httpx.TransportError):  # the page lived in the kernel's process, and went with it
        httpx.get(base + "api/health", timeout=5)
