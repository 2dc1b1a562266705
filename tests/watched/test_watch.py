"""convscope.watch end to end in this process: a plain PyTorch loop, its page served from a thread,
read over HTTP and the websocket as the browser reads it."""

import asyncio
import io
import logging
import math
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest
import torch
from PIL import Image

import convscope
from convscope.watched.local import LocalPage
from plain_loops import CLASSES, Loop, batches, lenet
from split_deployment import watch as read_messages
from support import until

@pytest.fixture
def page(tmp_path):
    yield tmp_path
    if LocalPage.current is not None:
        LocalPage.current.stop()


def start(tmp_path, control: bool = False, port: int = 0):
    model = lenet()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    probe, labels = next(batches(seed=1, size=8))
    viz = convscope.watch(model, probe, labels, CLASSES, optimizer=opt, control=control, port=port,
                          runs_dir=tmp_path, show=False)
    return viz, model, opt


def owner(viz) -> httpx.Client:
    url, token = viz.url.split("?token=")
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_a_plain_loop_is_shown_live_with_its_own_layers(page):
    viz, model, opt = start(page)
    loop = Loop(viz, model, opt)
    try:
        http = owner(viz)
        run = until(lambda: (r := http.get("/api/run").json())["step"] >= 5 and r)
        assert run["source"] == "watch" and run["control"] is False and run["model"] == "Sequential"
        assert [layer["output_shape"] for layer in run["layers"]][:3] == [[6, 28, 28], [6, 28, 28], [6, 14, 14]]
        assert run["layers"][-1]["type"] == "softmax" and run["layers"][0]["params"] == 156
        assert run["config"]["lr"] == 0.01 and run["config"]["momentum"] == 0.9
        messages = asyncio.run(read_messages(viz.url.split("?")[0].replace("http", "ws") + "ws", 4.0))
        hello = messages[0]
        assert hello["type"] == "hello" and hello["classes"] == CLASSES and len(hello["layers"]) == 13
        steps = [p["step"] for m in messages if m["type"] == "metrics" for p in m["points"]]
        assert steps and steps == list(range(steps[0], steps[0] + len(steps)))  # every step, in order
        assert any(m["type"] == "predictions" and len(m["items"]) == 8 for m in messages)
        assert http.get("/api/images/test/3.png").status_code == 200  # the probe images
        refused = http.post("/api/run/pause").json()
        assert refused["ok"] is False and "view only" in refused["message"]
        assert http.get("/api/session").json()["owner"] is False
        before = loop.step
        time.sleep(0.5)
        assert loop.step > before  # not paused
    finally:
        loop.close()
        viz.close()
    assert http.get("/api/run").json()["status"] == "finished"


def test_control_pauses_the_loop_and_writes_the_optimizer(page):
    viz, model, opt = start(page, control=True)
    loop = Loop(viz, model, opt)
    try:
        http = owner(viz)
        until(lambda: loop.step >= 3)
        assert http.post("/api/run/pause").json()["ok"]
        until(lambda: http.get("/api/run").json()["status"] == "paused")
        until(lambda: viz.status == "paused")  # the loop's own thread waits in log() now (the step in flight ended)
        held = loop.step
        time.sleep(1.0)
        assert loop.step == held  # the loop waits in log()
        answer = http.patch("/api/run/hyperparams", json={"lr": 0.002, "momentum": 0.5}).json()
        assert answer["ok"] and answer["run"]["config"]["lr"] == 0.002
        until(lambda: opt.param_groups[0]["lr"] == 0.002 and opt.param_groups[0]["momentum"] == 0.5)
        refused = http.patch("/api/run/hyperparams", json={"batch_size": 32}).json()
        assert not refused["ok"] and "only the learning rate and momentum" in refused["message"]
        assert not http.post("/api/run/reset").json()["ok"]
        assert http.post("/api/run/resume").json()["ok"]
        until(lambda: loop.step > held + 3)
        # the run database has the steps after the change once the recorder has written them
        points = until(lambda: (t := http.get(f"/api/runs/{viz.run_id}/history").json()["train"])
                       and t[-1]["lr"] == 0.002 and t)
        assert points[0]["lr"] == 0.01
    finally:
        loop.close()
        viz.close()


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def test_an_upload_is_classified_and_explained_by_the_watched_model(page):
    viz, model, opt = start(page)
    loop = Loop(viz, model, opt, steps=60)
    loop.thread.join(30)
    http = owner(viz)
    top_left = np.zeros((64, 64, 3), np.uint8)
    top_left[:32, :32] = 255
    answer = http.post("/api/classify", files={"file": ("a.png", png(top_left), "image/png")})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert len(result["probabilities"]) == 10 and math.isclose(sum(result["probabilities"]), 1, abs_tol=1e-4)
    assert result["gradcam"]["height"] == 28 and result["gradcam"]["layer"] is not None
    assert result["step"] == 60 and result["neighbours"]["items"] == []
    assert result["top"][0]["class"] == "class 0"  # the bright top-left quarter, learnt in 60 steps
    frame = convscope.protocol.decode_probe(__import__("base64").b64decode(result["frame"]))[0]
    assert {b.layer for b in frame.blobs} >= {-1, 0, 11}
    broken = http.post("/api/classify", files={"file": ("a.png", b"not an image", "image/png")})
    assert broken.status_code == 415
    viz.close()


def test_bad_use_is_told_and_never_stops_the_loop(page, caplog):
    viz, model, opt = start(page)
    caplog.set_level(logging.WARNING, "convscope.watch")
    viz.log(1, loss=float("nan"))
    http = owner(viz)
    run = until(lambda: (r := http.get("/api/run").json())["message"] and "diverged" in r["message"] and r)
    assert "nan" in run["message"]
    viz.log(1, loss=1.0)  # a step that does not grow is shown as the next
    barrier = threading.Barrier(8)

    def many() -> None:
        barrier.wait()
        for i in range(50):
            viz.log(100 + i, loss=0.5)

    threads = [threading.Thread(target=many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    steps = [p["step"] for p in until(lambda: http.get(f"/api/runs/{viz.run_id}/history").json()["train"])]
    assert steps == sorted(set(steps))
    viz.close()
    viz.log(999, loss=0.1)  # after close: ignored, told once
    assert any("after close" in r.message for r in caplog.records)
    assert any("steps must grow" in r.message for r in caplog.records)


def test_a_taken_port_is_told_and_a_free_one_used(page, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        caplog.set_level(logging.WARNING, "convscope.watch")
        viz, _, _ = start(page, port=port)
        assert f":{port}/" not in viz.url and httpx.get(viz.url.split("?")[0] + "api/health").status_code == 200
        assert any(f"port {port} is taken" in r.message for r in caplog.records)
        viz.close()


def test_a_second_watch_replaces_the_first_on_the_same_page(page):
    first, _, _ = start(page)
    second, _, _ = start(page)
    assert first.closed.is_set() and first.url.split("?")[0] == second.url.split("?")[0]
    until(lambda: httpx.get(second.url.split("?")[0] + "api/run").json()["run_id"] == second.run_id)
    time.sleep(0.5)
    run = httpx.get(second.url.split("?")[0] + "api/run").json()
    assert run["run_id"] == second.run_id and run["status"] == "training"  # the first's end came before
    second.close()


def test_only_rank_0_reports(page, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    viz, _, _ = start(page)
    assert viz.url is None and LocalPage.current is None
    viz.log(1, loss=1.0)  # does nothing
    viz.close()


SCRIPT_WITHOUT_CLOSE = """
import sys, torch
from torch import nn
import convscope
model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
viz = convscope.watch(model, torch.randn(3, 1, 2, 2), [0, 1, 0], port=0, runs_dir=sys.argv[1])
for step in range(1, 501):
    viz.log(step, loss=1.0 / step)
"""


def test_a_script_that_ends_without_close_has_its_whole_run_recorded(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT_WITHOUT_CLOSE, str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    with sqlite3.connect(tmp_path / "runs.db") as db:
        assert db.execute("select status, step from runs").fetchall() == [("finished", 500)]
        assert db.execute("select count(*), min(step), max(step) from train").fetchall() == [(500, 1, 500)]
