"""Faults: kill the training worker with SIGKILL again and again, then kill the server itself.

Starts `convscope serve` (convnetjs on the given data, a fresh runs folder, checkpoints every
--checkpoint-every seconds) as a subprocess, and:

1. --kills times, at a random moment: notes the live step, kills the worker process (SIGKILL), and
   waits until the run trains again. Per kill it reports the step at the kill, the checkpoint it
   came back from, the steps lost, and how long the run was down. "Nothing corrupted" is checked,
   not assumed: the same run came back (same run id, same settings), it resumed from the newest
   checkpoint the store knew of, its stored history has each step once and in order, and it
   keeps training.
2. kills the server itself (SIGKILL: no shutdown, no last checkpoint) and starts it again on the
   same runs folder: the same run must come back, its history up to the checkpoint unchanged point
   for point, evaluations included; then the database's own integrity check.

    python benchmarks/faults.py [--data ../shared/datasets/cifar10-jpeg.zip] [--kills 10]
                                [--checkpoint-every 10]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from machine import describe

SHARED_DATA = Path(__file__).resolve().parents[1] / "../shared/datasets/cifar10-jpeg.zip"


@dataclass
class Kill:
    step_at_kill: int
    checkpoint_step: int  # the newest checkpoint the store knew of at the kill
    resumed_step: int
    down_seconds: float  # from the kill until the run trained again
    same_run: bool
    history_sound: bool  # each stored step once, in order, from step 1

    @property
    def steps_lost(self) -> int:
        return self.step_at_kill - self.resumed_step


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`convscope serve` as a subprocess, with an owner's HTTP client."""

    def __init__(self, data: str, runs_dir: Path, checkpoint_every: float) -> None:
        self.port, token = free_port(), secrets.token_urlsafe()
        self.log = runs_dir.parent / f"{runs_dir.name}-server.log"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "convscope", "serve", "--port", str(self.port), "--data", data,
                 "--runs-dir", str(runs_dir), "--checkpoint-every", str(checkpoint_every), "--no-browser",
                 f"--token={token}"], stderr=log)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30,
                                 headers={"Authorization": f"Bearer {token}"})

    def run(self) -> dict:
        return self.http.get("/api/run").json()

    def wait(self, condition, timeout: float = 300.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                run = self.run()
                if condition(run):
                    return run
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server exited or the run did not come back; its log: {self.log}")
            time.sleep(0.05)

    def live_record(self, run_id: str) -> dict:
        return next(r for r in self.http.get("/api/runs").json()["runs"] if r["id"] == run_id)

    def worker_pid(self) -> int:
        """The worker: the server's child that is not multiprocessing's resource tracker."""
        pid = self.process.pid
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
        raise RuntimeError("no worker process")

    def stop(self, sig: int = signal.SIGINT) -> None:
        self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(60)


def stored(runs_dir: Path, run_id: str, table: str) -> list[tuple[int, str]]:
    """A run's stored points, (step, JSON), read straight from the run database (read-only), in step order."""
    with sqlite3.connect(f"file:{runs_dir / 'runs.db'}?mode=ro", uri=True) as db:
        return db.execute(f"SELECT step, point FROM {table} WHERE run = ? ORDER BY step", (run_id,)).fetchall()


def sound(runs_dir: Path, run_id: str) -> bool:
    """Every step from 1 on stored, none missing (the primary key keeps each once)."""
    steps = [step for step, _ in stored(runs_dir, run_id, "train")]
    return bool(steps) and steps == list(range(1, len(steps) + 1))


def kill_worker(server: Server, runs_dir: Path, run_id: str, config: dict) -> Kill:
    saved = server.live_record(run_id)["checkpoint_step"]
    step = server.run()["step"]
    start = time.monotonic()
    os.kill(server.worker_pid(), signal.SIGKILL)
    server.wait(lambda run: run["status"] == "error")
    run = server.wait(lambda run: run["status"] == "training" and (run["message"] or "").startswith("resumed"))
    down = time.monotonic() - start
    resumed = int(run["message"].rsplit(" ", 1)[1])
    same = run["run_id"] == run_id and run["config"] == config
    server.wait(lambda run: run["step"] > resumed + 20)  # it trains on
    return Kill(step, saved, resumed, down, same, sound(runs_dir, run_id))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_DATA.resolve()) if SHARED_DATA.is_file() else None,
                        help="dataset for the server (default: the shared CIFAR-10 JPEG copy)")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--checkpoint-every", type=float, default=10.0, help="the server's, in seconds")
    parser.add_argument("--seed", type=int, default=0, help="seeds the moments of the kills")
    args = parser.parse_args()
    if args.data is None:
        parser.error("no --data and no shared CIFAR-10 copy beside the repo")
    rng = random.Random(args.seed)
    load_before = os.getloadavg()[0]
    runs_dir = Path(tempfile.mkdtemp(prefix="convscope-faults-"))

    server = Server(args.data, runs_dir, args.checkpoint_every)
    run = server.wait(lambda run: run["status"] == "training" and run["step"] > 50)
    run_id = run["run_id"]
    server.http.patch("/api/run/hyperparams", json={"eval_every": 0.25}).raise_for_status()
    config = server.run()["config"]
    kills = []
    for i in range(args.kills):
        time.sleep(rng.uniform(0.5, 2.0) * args.checkpoint_every)
        kills.append(kill_worker(server, runs_dir, run_id, config))
        print(f"  kill {i + 1}: {kills[-1]}", file=sys.stderr)

    # the server itself, without warning
    server.wait(lambda run: server.live_record(run_id)["checkpoint_step"] > kills[-1].resumed_step + 20, 120)
    time.sleep(rng.uniform(0.2, 0.8) * args.checkpoint_every)  # between two checkpoints
    saved = server.live_record(run_id)["checkpoint_step"]
    before = {table: stored(runs_dir, run_id, table) for table in ("train", "test")}
    step_at_kill = server.run()["step"]
    server.process.kill()
    server.process.wait(30)
    time.sleep(2.0)  # the worker notices its server is gone (it checks every second) and exits
    start = time.monotonic()
    server = Server(args.data, runs_dir, args.checkpoint_every)
    run = server.wait(lambda run: run["status"] == "training" and (run["message"] or "").startswith("resumed"))
    down = time.monotonic() - start
    resumed = int(run["message"].rsplit(" ", 1)[1])
    after = {table: stored(runs_dir, run_id, table) for table in ("train", "test")}
    kept = lambda points: [p for p in points if p[0] <= resumed]  # noqa: E731
    train_same = kept(before["train"]) == kept(after["train"]) and sound(runs_dir, run_id)
    test_same = kept(before["test"]) == kept(after["test"]) and len(kept(after["test"])) > 0
    server.stop()
    with sqlite3.connect(runs_dir / "runs.db") as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]

    print(f"\n{describe(load_before)}")
    print(f"command: python {' '.join(sys.argv)}")
    print(f"data: {args.data}; model: convnetjs (preset recipe); checkpoints every {args.checkpoint_every:g} s; "
          f"evaluations every 0.25 epochs; kills at random moments 0.5-2 checkpoint intervals apart\n")
    print("| kill | step at kill | newest checkpoint | resumed at | steps lost | down (s) | same run | history sound |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for i, k in enumerate(kills, 1):
        print(f"| {i} | {k.step_at_kill:,} | {k.checkpoint_step:,} | {k.resumed_step:,} | {k.steps_lost:,} | "
              f"{k.down_seconds:.1f} | {'yes' if k.same_run else 'NO'} | {'yes' if k.history_sound else 'NO'} |")
    lost = [k.steps_lost for k in kills]
    print(f"\nworker kills: {len(kills)}, came back {sum(k.same_run for k in kills)} times; steps lost: "
          f"mean {sum(lost) / len(lost):.0f}, max {max(lost)}; resumed from the newest checkpoint: "
          f"{sum(k.resumed_step >= k.checkpoint_step for k in kills)}/{len(kills)}")
    print("\n| server SIGKILL | step at kill | newest checkpoint | resumed at | steps lost | down (s) "
          "| train history kept | evaluations kept | run.db integrity |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| 1 | {step_at_kill:,} | {saved:,} | {resumed:,} | {step_at_kill - resumed:,} | {down:.1f} | "
          f"{'identical' if train_same else 'CHANGED'} ({len(kept(after['train'])):,} points) | "
          f"{'identical' if test_same else 'CHANGED'} ({len(kept(after['test']))}) | {integrity} |")


if __name__ == "__main__":
    main()
