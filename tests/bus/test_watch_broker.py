"""A loop watched in its own script, joined to a split deployment: `convscope web` shows it over Redis."""

import asyncio
import time

import torch

import convscope
from plain_loops import CLASSES, Loop, batches, lenet
from split_deployment import Deployment, steps_seen, watch


def test_a_watched_loop_is_shown_and_steered_by_the_web_servers(tmp_path, redis_server, image_folder):
    model = lenet()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    probe, labels = next(batches(seed=1, size=8))
    with Deployment(tmp_path, redis_server.url, image_folder) as d:
        a = d.web()
        runs = tmp_path / "runs"  # the web servers' (Deployment's) runs folder and database
        viz = convscope.watch(model, probe, labels, CLASSES, optimizer=opt, control=True, broker=redis_server.url,
                              store=f"sqlite:///{runs / 'runs.db'}", runs_dir=runs, name="my lenet", show=False)
        loop = Loop(viz, model, opt, rest=0.01)  # the web servers' processes need the CPU too
        try:
            run = d.wait(a, lambda r: r.get("source") == "watch" and r["step"] >= 20)
            assert run["model"] == "my lenet" and run["layers"][0]["name"].startswith("0: Conv2d")
            b = d.web()  # a web server started later finds the run too, once it has read the broker's snapshot
            d.wait(b, lambda r: r.get("run_id") == viz.run_id)
            messages = asyncio.run(watch(b.ws_url, 3.0))
            assert messages[0]["type"] == "hello" and messages[0]["run"]["run_id"] == viz.run_id
            steps = steps_seen(messages)
            assert steps and steps == list(range(steps[0], steps[0] + len(steps)))
            assert a.http.post("/api/run/pause").json()["ok"]
            d.wait(b, lambda r: r["status"] == "paused")
            d.wait(b, lambda r: viz.status == "paused")  # the loop waits in log() now (the step in flight ended)
            held = loop.step
            time.sleep(1.0)
            assert loop.step == held
            assert b.http.patch("/api/run/hyperparams", json={"lr": 0.003}).json()["ok"]
            assert b.http.post("/api/run/resume").json()["ok"]
            d.wait(a, lambda r: r["step"] > held + 5)
            assert opt.param_groups[0]["lr"] == 0.003
            stored = [p["step"] for p in b.http.get(f"/api/runs/{viz.run_id}/history").json()["train"]]
            assert stored[0] == 1 and stored == list(range(1, len(stored) + 1))  # recorded by the script
            answer = a.http.post("/api/classify", content=png_bytes(), headers={"content-type": "image/png"})
            assert answer.status_code == 409 and "convscope.watch" in answer.json()["detail"]
        finally:
            loop.close()
            viz.close()
        d.wait(a, lambda r: r["status"] == "finished")


def png_bytes() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (28, 28), 128).save(out, "PNG")
    return out.getvalue()
