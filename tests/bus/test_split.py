"""The split deployment against real servers: one `convscope trainer`, web servers, redis-server,
PostgreSQL; every process real, every fault real (SIGKILL, a broker restarted empty, a database
stopped for 30 s)."""

from __future__ import annotations

import asyncio
import io
import math
import time

import httpx
import numpy as np
import pytest
import redis
from PIL import Image

from convscope.bus.codec import encode
from convscope.messages import Command
from split_deployment import Deployment, steps_seen, watch


@pytest.fixture
def deployment(tmp_path, redis_server, image_folder, private_cache):
    with Deployment(tmp_path / "split", redis_server.url, image_folder, model="lenet", epochs=100_000) as d:
        yield d


def training_past(step: int):
    return lambda run: run["status"] == "training" and run["step"] >= step


def contiguous(steps: list[int]) -> bool:
    assert steps == list(range(steps[0], steps[0] + len(steps))), \
        f"not 1, 2, 3...: {[(i, s) for i, s in enumerate(steps) if i and s != steps[i - 1] + 1][:10]}"
    return True


def evenly_thinned(steps: list[int]) -> bool:
    """The store's history, thinned to every k-th step (its last point kept): no step missing."""
    stride = steps[1] - steps[0] if len(steps) > 1 else 1
    assert steps[:-1] == list(range(steps[0], steps[0] + stride * (len(steps) - 1), stride)), steps[:20]
    return True


def history(web, run_id: str) -> list[int]:
    return [p["step"] for p in web.http.get(f"/api/runs/{run_id}/history").json()["train"]]


def png() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()


def test_a_late_web_server_shows_the_whole_run_and_answers_as_the_first(deployment):
    d = deployment
    d.start_trainer()
    a = d.web()
    d.wait(a, training_past(30))
    b = d.web()  # starts late: its charts come from the store and the stream
    d.wait(b, training_past(30))  # it has read the broker's snapshot (a viewer before gets a resync)
    messages = asyncio.run(watch(b.ws_url, 3))
    assert messages[0]["type"] == "hello" and messages[0]["run"]["status"] == "training"
    steps = steps_seen(messages)
    assert steps[0] == 1 and contiguous(steps) and steps[-1] >= 30, steps
    assert [row["name"] for row in messages[0]["layers"]] == [row["name"] for row in a.run()["layers"]]
    # the same weights reach both: an upload gets the same answer on either
    assert a.http.post("/api/run/pause").json()["ok"]
    time.sleep(2.5)  # the paused network's weights reach both web servers (one copy a second)
    answers = [w.http.post("/api/classify", files={"file": ("x.png", png())}).json() for w in (a, b)]
    assert answers[0]["probabilities"] == pytest.approx(answers[1]["probabilities"], abs=1e-6)
    # a checkpoint downloads from either (the runs folder is shared)
    download = b.http.get("/api/checkpoint")
    assert download.status_code == 200 and len(download.content) > 10_000
    deadline = time.monotonic() + 10
    while list((d.folder / "runs").glob(".download-*")) and time.monotonic() < deadline:
        time.sleep(0.1)  # removed once the download is sent
    assert not list((d.folder / "runs").glob(".download-*"))


def test_the_owner_token_and_the_viewer_cap_are_shared(deployment):
    d = deployment
    d.start_trainer()
    a = d.web(token=None, max_viewers=2)  # no token given: the first web server's random one for all
    b = d.web(token=None, max_viewers=2)
    d.wait(a, training_past(1))
    shared = redis.Redis.from_url(d.env["CONVSCOPE_BROKER"]).get("convscope:token").decode()
    assert len(shared) >= 32
    for web in (a, b):  # the deployment's usual token is not this one
        assert web.http.post("/api/run/pause").status_code == 403
    with httpx.Client() as browser:  # the owner's address on one web server, its cookie on the other
        assert browser.get(f"{a.url}/", params={"token": shared}, follow_redirects=True).status_code == 200
        assert browser.post(f"{b.url}/api/run/pause").status_code == 200
        assert browser.post(f"{a.url}/api/run/resume").status_code == 200

    async def viewers() -> str:
        import websockets
        first = await websockets.connect(a.ws_url, origin=a.url)
        second = await websockets.connect(b.ws_url, origin=b.url)
        await first.recv(), await second.recv()
        await asyncio.sleep(2.5)  # the heartbeats carry each server's viewers to the other
        third = await websockets.connect(a.ws_url, origin=a.url)
        refused = await third.recv()
        for ws in (first, second, third):
            await ws.close()
        return refused

    assert "full" in asyncio.run(viewers())


def test_killing_a_web_server_loses_its_viewers_no_metric(deployment):
    d = deployment
    d.start_trainer()
    a, b = d.web(), d.web()
    d.wait(a, training_past(10))
    before = steps_seen(asyncio.run(watch(a.ws_url, 2)))
    d.kill_web(a)
    after = asyncio.run(watch(b.ws_url, 2))  # the page reconnects to another web server
    steps = steps_seen(after)
    assert steps[0] == 1 and contiguous(steps) and set(before) <= set(steps), (before, steps)
    assert steps[-1] > before[-1]  # training went on
    assert d.trainer.poll() is None


def test_killing_the_trainer_is_shown_and_a_new_one_resumes_from_the_checkpoint(deployment):
    d = deployment
    d.start_trainer()
    a = d.web()
    run = d.wait(a, training_past(30))
    d.wait(a, lambda run: a.http.get("/api/runs").json()["runs"][0]["checkpoint_step"])
    d.kill_trainer()
    killed_at, step = time.monotonic(), a.run()["step"]
    down = d.wait(a, lambda run: run["status"] == "error", timeout=10)
    assert "trainer is down" in down["message"] and time.monotonic() - killed_at < 6
    assert a.http.post("/api/run/pause").status_code == 503
    d.start_trainer()
    resumed = d.wait(a, lambda run: run["status"] == "training" and "resumed" in (run["message"] or ""))
    assert resumed["run_id"] == run["run_id"]
    checkpoint = int(resumed["message"].rsplit(" ", 1)[1])
    steps_per_second = run["images_per_second"] / run["config"]["batch_size"]
    assert step - checkpoint <= math.ceil(2 * steps_per_second * 3) + 10  # --checkpoint-every 2 s
    assert a.process.poll() is None  # no web server restarted
    d.wait(a, training_past(step + 5))
    steps = steps_seen(asyncio.run(watch(a.ws_url, 1)))
    assert steps[0] == 1 and contiguous(steps), steps  # the redone steps replace the lost ones


def test_a_broker_restarted_empty_loses_no_metric_and_training_goes_on(deployment, redis_server):
    d = deployment
    d.start_trainer()
    a = d.web()
    run = d.wait(a, training_past(10))
    redis_server.restart(down=3.0)
    assert d.trainer.poll() is None and a.process.poll() is None
    d.wait(a, training_past(run["step"] + 40))  # the gap's steps arrive, and training goes on
    steps = steps_seen(asyncio.run(watch(a.ws_url, 1)))
    assert steps[0] == 1 and contiguous(steps) and steps[-1] >= run["step"] + 40, steps
    stored = history(a, run["run_id"])
    assert stored[0] == 1 and evenly_thinned(stored)
    b = d.web()  # a web server started after the restart still finds the whole run
    steps = steps_seen(asyncio.run(watch(b.ws_url, 1)))
    assert steps[0] == 1 and contiguous(steps), steps


def test_a_database_away_for_30_s_loses_no_history(tmp_path, redis_server, postgres_server, image_folder,
                                                   private_cache):
    with Deployment(tmp_path / "split", redis_server.url, image_folder, store=postgres_server.url,
                    model="lenet", epochs=100_000) as d:
        d.start_trainer()
        a = d.web()
        run = d.wait(a, training_past(10))
        postgres_server.stop()
        time.sleep(30)
        during = a.run()["step"]
        away = a.http.get("/api/runs")  # the live run shows on; the store's reads wait for it
        assert away.status_code == 503 and "run database cannot be reached" in away.json()["detail"]
        postgres_server.start()
        assert during > run["step"] + 20  # training went on
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                stored = history(a, run["run_id"])
                if stored and stored[-1] >= during:
                    break
            except Exception:
                pass
            time.sleep(0.5)
        assert stored[0] == 1 and evenly_thinned(stored) and stored[-1] >= during, d.logs()


def test_malformed_entries_and_strangers_commands_are_skipped(deployment):
    d = deployment
    d.start_trainer()
    a = d.web()
    d.wait(a, training_past(5))
    broker = redis.Redis.from_url(d.env["CONVSCOPE_BROKER"])
    for fields in ({"m": b"\x80\x04\x95 a pickle"}, {"m": b"CSB1\xff\xff\xff\xff"}, {"latest": "passwords"},
                   {"something": "else"}, {"m": encode(Command(1, "pause"))}):
        broker.xadd("convscope:events", fields)
    broker.set("convscope:latest:weights", b"not weights")
    broker.xadd("convscope:events", {"latest": "weights"})
    broker.xadd("convscope:commands", {"sender": "intruder", "c": encode(Command(1, "pause"))})
    broker.set("convscope:web:impostor", '{"viewers": 0}', px=10_000)
    broker.xadd("convscope:commands", {"sender": "impostor", "c": encode(Command(2, "stop"))})
    broker.xadd("convscope:commands", {"sender": "impostor", "c": b"rm -rf /"})
    time.sleep(3)
    run = a.run()
    assert run["status"] == "training" and d.trainer.poll() is None and a.process.poll() is None
    messages = asyncio.run(watch(a.ws_url, 2))
    assert messages[0]["type"] == "hello" and any(m["type"] == "metrics" for m in messages)
    assert a.http.post("/api/classify", files={"file": ("x.png", png())}).status_code == 200
    logs = d.logs()
    assert "unknown sender 'intruder'" in logs and "may not send 'stop'" in logs
    assert logs.count("skipped") >= 7
