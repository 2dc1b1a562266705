"""REST against a real server: state, commands and their answers, models, images, checkpoints."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from convscope.assets import package_folder
from convscope.models import PRESETS
from convscope.train import load_checkpoint


def test_health_and_run(live, image_folder):
    assert live.http.get("/api/health").json() == {"status": "ok", "worker": "alive", "protocol_version": 1}
    run = live.run()
    assert run["model"] == "convnetjs" and run["device"] == "cpu"
    assert run["dataset"] == {"source": f"image folder at {image_folder.resolve()}", "train_size": 512,
                              "test_size": 100, "channels": 3, "height": 32, "width": 32,
                              "classes": [f"class{c}" for c in range(10)]}
    assert [row["index"] for row in run["layers"]] == list(range(len(PRESETS["convnetjs"].spec)))


def test_pause_stops_the_step_counter_and_resume_restarts_it(live):
    reply = live.http.post("/api/run/pause").json()
    assert reply["ok"] and reply["run"]["status"] == "paused"
    step = reply["run"]["step"]
    assert live.http.post("/api/run/pause").json()["ok"] is False  # already paused: no effect
    one = live.http.post("/api/run/step").json()
    assert one["ok"]
    live.wait_for(lambda run: run["step"] > step)
    time.sleep(1.0)  # dozens of steps, were it training
    still = live.run()
    assert (still["status"], still["step"]) == ("paused", step + 1)  # one step, and paused again
    assert live.http.post("/api/run/resume").json()["run"]["status"] == "training"
    live.wait_for(lambda run: run["step"] > step + 3)


def test_a_new_learning_rate_shows_in_the_state(live):
    reply = live.http.patch("/api/run/hyperparams", json={"lr": 0.0123, "momentum": 0.8}).json()
    assert reply["ok"] and reply["run"]["config"]["lr"] == 0.0123
    assert live.run()["config"]["momentum"] == 0.8
    live.http.patch("/api/run/hyperparams", json={"lr": 0.05, "momentum": 0.9})


@pytest.mark.parametrize("body, message", [
    ({"lr": -0.1}, "lr must be > 0"),
    ({"batch_size": 0}, "batch_size must be between 1 and 8192, got 0"),
    ({"batch_size": "64"}, "batch_size: Input should be a valid integer"),
    ({"lr": "fast"}, "lr: Input should be a valid number"),
    ({"optimizer": "rmsprop"}, "optimizer: Input should be 'sgd', 'adamw' or 'adadelta'"),
    ({"learning_rate": 0.1}, "learning_rate: unknown field"),
    ({}, "nothing to change"),
])
def test_bad_hyperparameters_get_422_and_training_goes_on(live, body, message):
    step = live.run()["step"]
    r = live.http.patch("/api/run/hyperparams", json=body)
    assert r.status_code == 422 and message in r.json()["detail"], r.text
    live.wait_for(lambda run: run["step"] > step and run["status"] == "training")


def test_unknown_model_is_404_and_a_bad_spec_422_naming_the_layer(live):
    r = live.http.post("/api/run/model", json={"name": "alexnet-huge"})
    assert r.status_code == 404 and "unknown model 'alexnet-huge'" in r.json()["detail"]
    bad = [{"type": "conv", "filters": 8, "size": 3}, {"type": "pool", "size": 64}, {"type": "fc", "units": 10}]
    r = live.http.post("/api/run/model", json={"spec": bad})
    assert r.status_code == 422 and r.json()["path"] == [1] and "layer 1 (pool)" in r.json()["detail"]
    assert live.http.post("/api/run/model", json={"spec": "conv"}).status_code == 422
    assert live.run()["model"] == "convnetjs"


def test_switching_models_starts_a_fresh_run(live):
    spec = [{"type": "conv", "filters": 4, "size": 3, "pad": 1}, {"type": "relu"},
            {"type": "pool", "size": 4}, {"type": "fc", "units": 10}, {"type": "softmax"}]
    reply = live.http.post("/api/run/model", json={"spec": spec, "name": "tiny"}).json()
    assert reply["ok"] and reply["run"]["model"] == "tiny" and reply["run"]["step"] == 0
    assert len(live.run()["layers"]) == 5
    reply = live.http.post("/api/run/model", json={"name": "convnetjs"}).json()
    assert reply["ok"] and reply["run"]["config"]["batch_size"] == 128  # the preset's recipe
    live.http.patch("/api/run/hyperparams", json={"batch_size": 32, "epochs": 100_000})
    live.wait_for(lambda run: run["step"] > 2)


def test_models_and_summaries(live):
    models = live.http.get("/api/models").json()
    assert [m["name"] for m in models] == list(PRESETS)
    convnetjs = live.http.get("/api/models/convnetjs/summary").json()
    assert convnetjs["params"] == 22466 and convnetjs["layers"][1]["output_shape"] == [16, 32, 32]
    assert live.http.get("/api/models/nope/summary").status_code == 404
    r = live.http.post("/api/models/summary", json={"spec": [{"type": "fc", "units": 10}]})
    assert r.status_code == 200 and r.json()["params"] == 3 * 32 * 32 * 10 + 10
    r = live.http.post("/api/models/summary", json={"spec": [{"type": "conv", "size": 3}]})
    assert r.status_code == 422 and 'missing required field "filters"' in r.json()["detail"]


def test_test_images_and_probe_choice(live):
    r = live.http.get("/api/images/test/7.png")
    assert r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (32, 32)
    assert live.http.get("/api/images/test/100.png").status_code == 404
    assert live.http.post("/api/run/probe", json={"index": 100}).status_code == 422
    reply = live.http.post("/api/run/probe", json={"index": 57}).json()
    assert reply["ok"] and reply["run"]["probe"] == {"index": 57, "label": "class5"}  # 10 per class
    live.http.post("/api/run/probe", json={"index": 0})


def test_checkpoint_download_is_a_loadable_checkpoint(live, tmp_path):
    r = live.http.get("/api/checkpoint")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    (tmp_path / "run.pt").write_bytes(r.content)
    checkpoint = load_checkpoint(tmp_path / "run.pt")
    assert checkpoint.step > 0 and len(checkpoint.classes) == 10


def test_the_page_and_static_files(live):
    page = live.http.get("/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/static/js/main.js"></script>' in page.text
    assert '<link rel="stylesheet" href="/static/vendor/uplot/uPlot.min.css">' in page.text
    static = package_folder("static")
    for path, kind in (("js/main.js", "text/javascript"), ("js/views/charts.js", "text/javascript"),
                       ("vendor/uplot/uPlot.esm.js", "text/javascript"),
                       ("vendor/uplot/uPlot.min.css", "text/css")):
        r = live.anonymous.get(f"/static/{path}")
        assert r.status_code == 200 and r.headers["content-type"].split(";")[0] == kind, (path, r.headers)
        assert r.content == (static / path).read_bytes(), path
    assert b'from "./socket.js"' in live.anonymous.get("/static/js/main.js").content  # the entry module
    assert live.anonymous.get("/static/js/nothing.js").status_code == 404
    assert live.http.get("/openapi.json").json()["info"]["title"] == "convscope"


def test_a_run_finishes_when_its_epochs_are_done_and_can_train_on(live):
    live.wait_for(lambda run: run["epoch"] > 0.5)
    assert live.http.patch("/api/run/hyperparams", json={"epochs": 0.5}).json()["ok"]
    run = live.wait_for(lambda run: run["status"] == "finished")
    assert "finished" in run["message"]
    assert live.http.post("/api/run/pause").json()["ok"] is False
    reply = live.http.patch("/api/run/hyperparams", json={"epochs": 100_000}).json()
    assert reply["ok"] and reply["run"]["status"] == "training"
    live.wait_for(lambda r: r["step"] > run["step"])


def test_reset_starts_over_and_trains_even_when_paused(live):
    live.http.post("/api/run/pause")
    reply = live.http.post("/api/run/reset").json()
    assert reply["ok"] and reply["run"]["status"] == "training" and reply["run"]["step"] == 0
    assert reply["run"]["config"]["batch_size"] == live.run()["config"]["batch_size"]  # kept
    live.wait_for(lambda run: run["step"] > 2)
