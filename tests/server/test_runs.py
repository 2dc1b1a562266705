"""/api/runs: history kept per run, thinned on request, resumed, deleted, and a checkpoint upload
that becomes a run; owner-only where it changes anything (the store itself: tests/runs/)."""

from __future__ import annotations

import io

def test_runs_are_listed_with_their_curves(live):
    live.wait_for(lambda run: run["step"] > 30)
    live.http.post("/api/run/pause")  # the history holds still while it is compared
    live.wait_for(lambda run: run["status"] == "paused")
    assert live.app.state.recorder.flush(10)  # the recorder's writer has written what was recorded
    answer = live.anonymous.get("/api/runs").json()  # reading is open
    run = next(r for r in answer["runs"] if r["live"])
    assert run["id"] == live.run()["run_id"] and run["name"] == "convnetjs" and answer["problem"] is None
    full = [p["step"] for p in live.app.state.store.history(run["id"])[0]]
    history = live.anonymous.get(f"/api/runs/{run['id']}/history", params={"points": 10}).json()
    steps = [p["step"] for p in history["train"]]
    stride = -(-len(full) // 10)
    assert history["run"]["id"] == run["id"] and len(full) > 30 and full == list(range(1, len(full) + 1))
    assert steps == full[::stride] + ([full[-1]] if (len(full) - 1) % stride else [])
    assert live.anonymous.get("/api/runs/20000101-000000-0000/history").status_code == 404
    # an encoded "/" is decoded before routing: no route has that path
    assert live.anonymous.get("/api/runs/..%2F..%2Fetc/history").status_code == 404
    for bad in ("...", "..%5C..%5Cetc", "x", "20000101-000000-0000x"):  # reach the route: its pattern refuses them
        r = live.anonymous.get(f"/api/runs/{bad}/history")
        assert r.status_code == 422 and "run_id" in r.json()["detail"], (bad, r.text)


def test_resume_and_delete_are_the_owners_and_checked(live):
    run_id = live.run()["run_id"]
    for method, url in (("POST", f"/api/runs/{run_id}/resume"), ("DELETE", f"/api/runs/{run_id}")):
        assert live.anonymous.request(method, url).status_code == 401
        assert live.anonymous.request(method, url, headers={"Authorization": "Bearer wrong-token"}).status_code == 403
    answer = live.http.delete(f"/api/runs/{run_id}")
    assert answer.status_code == 409 and "live run" in answer.json()["detail"]
    assert live.http.post("/api/runs/20000101-000000-0000/resume").status_code == 404


def test_an_old_run_is_resumed_and_a_finished_one_deleted(start_server, image_folder, tmp_path):
    with start_server(image_folder) as live:
        first = live.wait_for(lambda run: run["status"] == "training" and run["step"] > 5)["run_id"]
        live.http.post("/api/run/model", json={"name": "lenet"})
        second = live.wait_for(lambda run: run["model"] == "lenet" and run["step"] > 2)["run_id"]
        answer = live.http.post(f"/api/runs/{first}/resume")
        assert answer.status_code == 200, answer.text
        run = live.wait_for(lambda run: run["run_id"] == first and run["status"] == "training")
        assert run["model"] == "convnetjs" and run["step"] > 5
        assert live.app.state.mirror.train.points[0].step == 1  # its chart came back
        assert live.http.delete(f"/api/runs/{second}").status_code == 204
        assert second not in [r["id"] for r in live.http.get("/api/runs").json()["runs"]]
        assert not (tmp_path / "runs" / second).exists()


def test_an_uploaded_checkpoint_becomes_the_live_run(start_server, image_folder):
    with start_server(image_folder) as live:
        live.wait_for(lambda run: run["status"] == "training" and run["step"] > 5)
        live.http.patch("/api/run/hyperparams", json={"lr": 0.033})
        data = live.http.get("/api/checkpoint").content
        step = live.run()["step"]
        for body in (b"", b"garbage" * 100):
            answer = live.http.post("/api/checkpoint", content=body,
                                    headers={"Content-Type": "application/octet-stream"})
            assert answer.status_code == 422, answer.text
            assert answer.json()["detail"].startswith("the upload is not a readable checkpoint"), answer.text
        assert live.anonymous.post("/api/checkpoint", content=data).status_code == 401
        answer = live.http.post("/api/checkpoint", params={"name": "mine"},
                                files={"file": ("run.pt", io.BytesIO(data), "application/octet-stream")})
        assert answer.status_code == 200, answer.text
        run = live.wait_for(lambda run: run["message"] and "resumed" in run["message"])
        assert run["model"] == "mine" and run["config"]["lr"] == 0.033 and run["step"] >= step - 1
        runs = live.http.get("/api/runs").json()["runs"]
        assert sum(r["name"] == "mine" for r in runs) == 1 and len(runs) == 2  # the failed uploads left nothing


def test_a_run_database_that_cannot_be_written_is_reported_and_training_goes_on(start_server, image_folder,
                                                                              monkeypatch):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    with start_server(image_folder) as live:
        live.wait_for(lambda run: run["status"] == "training")
        assert live.http.get("/api/runs").json()["problem"] is None
        recorder = live.app.state.recorder
        run_id = live.run()["run_id"]

        def disk_full(*args):
            raise OperationalError("INSERT INTO train", {}, sqlite3.OperationalError("database or disk is full"))

        monkeypatch.setattr(recorder.store, "add_train", disk_full)
        step = live.run()["step"]
        live.wait_for(lambda run: run["step"] > step + 5)  # training goes on, and the hub with it
        problem = live.http.get("/api/runs").json()["problem"]
        assert problem.startswith("the run database cannot be written (database or disk is full): "), problem
        assert problem.endswith(" wait and are retried"), problem
        monkeypatch.undo()  # the disk has room again: the points kept meanwhile are written
        assert recorder.flush(10) and live.http.get("/api/runs").json()["problem"] is None
        steps = [p["step"] for p in live.app.state.store.history(run_id)[0]]
        assert steps == list(range(1, len(steps) + 1)) and steps[-1] > step + 5
