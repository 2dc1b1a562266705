"""Live streaming: does watching slow training down, and how fresh is what viewers see?

Starts `convscope serve` (convnetjs, its preset recipe) as a subprocess, then measures in
alternating rounds, each over the same wall-clock window:

- training images/s with no viewers, 1 viewer and N viewers (websocket clients in this process
  that read everything), from GET /api/run's images_seen over wall-clock time (probes and
  predictions included; test-set evaluations are switched off for the measurement);
- the share of the worker's wall-clock time spent in training steps: what probes, predictions,
  commands and flushes leave to training. Unlike images/s, it hardly moves when other programs
  load the machine;
- latency from a training step's end (its metric's `time`) to its arrival at a viewer;
- bytes/s per viewer, probe frames/s per viewer, and the CPU the server process (not the worker)
  spends on fanning out, as a share of one core.

It also times one probe against one training step in this process: the probe's share of the
worker's time at --probe-hz.

    python benchmarks/streaming.py [--data ../shared/datasets/cifar10-jpeg.zip] [--seconds 20]
                                   [--rounds 2] [--viewers 1 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from machine import describe

SHARED_DATA = Path(__file__).resolve().parents[1] / "../shared/datasets/cifar10-jpeg.zip"
SETTLE = 3.0  # seconds after viewers connect before measuring (hello, first frames)


@dataclass
class Viewer:
    """What one websocket client received while counting."""
    counting: bool = False
    bytes: int = 0
    frames: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, step end -> arrival

    async def watch(self, url: str) -> None:
        async with connect(url, max_size=None) as ws:
            async for item in ws:
                if not self.counting:
                    continue
                self.bytes += len(item)
                if isinstance(item, bytes):
                    self.frames += 1
                elif item.startswith('{"type":"metrics"'):
                    now = time.time()
                    self.latencies += [now - p["time"] for p in json.loads(item)["points"]]


@dataclass
class Round:
    viewers: int
    images_per_second: float
    in_steps: float  # share of wall-clock time in training steps
    server_cpu: float  # CPU seconds of the server process per wall-clock second
    latencies: list[float]
    bytes_per_second: float  # per viewer
    frames_per_second: float  # per viewer


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux), or 0 where /proc is missing."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(http: httpx.AsyncClient, ws_url: str, n: int, seconds: float, pid: int) -> Round:
    viewers = [Viewer() for _ in range(n)]
    tasks = [asyncio.create_task(v.watch(ws_url)) for v in viewers]
    await asyncio.sleep(SETTLE if n else 1.0)
    for v in viewers:
        v.counting = True
    before, start, cpu = (await http.get("/api/run")).json(), time.monotonic(), cpu_seconds(pid)
    await asyncio.sleep(seconds)
    after, wall = (await http.get("/api/run")).json(), time.monotonic() - start
    cpu = cpu_seconds(pid) - cpu
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if after["step"] < before["step"]:
        raise RuntimeError("the run restarted during the measurement")
    return Round(n, (after["images_seen"] - before["images_seen"]) / wall,
                 (after["seconds"] - before["seconds"]) / wall, cpu / wall, [x for v in viewers for x in v.latencies],
                 sum(v.bytes for v in viewers) / wall / max(n, 1),
                 sum(v.frames for v in viewers) / wall / max(n, 1))


def probe_share(data: str) -> tuple[float, float]:
    """(ms per training step, ms per probe) of the preset in this process."""
    from convscope.data import load_dataset
    from convscope.models import get_preset
    from convscope.protocol import ProbeSource
    from convscope.train import TrainConfig, Trainer
    from convscope.probes import probe

    preset = get_preset("convnetjs")
    dataset = load_dataset(data, progress=lambda *_: None)
    trainer = Trainer(preset.spec, dataset, TrainConfig().replace(**{**preset.recipe, "epochs": 1000}))
    for _ in range(5):
        trainer.step()
    start = time.perf_counter()
    for _ in range(30):
        trainer.step()
    step = (time.perf_counter() - start) / 30
    start = time.perf_counter()
    for _ in range(20):
        probe(trainer.model, trainer.test_images[:1], dataset.test_images[0], int(dataset.test_labels[0]),
              trainer.step_count, ProbeSource(source="test", index=0))
    return step * 1e3, (time.perf_counter() - start) / 20 * 1e3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run(args: argparse.Namespace) -> list[Round]:
    port = free_port()
    token = secrets.token_urlsafe()  # the owner's: the benchmark switches evaluation off
    server = subprocess.Popen([sys.executable, "-m", "convscope", "serve", "--port", str(port),
                               "--runs-dir", tempfile.mkdtemp(prefix="convscope-bench-"),
                               "--data", args.data, "--epochs", "1000", "--no-browser",
                               "--probe-hz", str(args.probe_hz), f"--token={token}"],
                              stderr=subprocess.DEVNULL)
    rounds: list[Round] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                     headers={"Authorization": f"Bearer {token}"}) as http:
            while True:  # until the data is loaded and training has warmed up
                try:
                    run_state = (await http.get("/api/run")).json()
                    if run_state["status"] == "training" and run_state["step"] > 50:
                        break
                    if run_state["status"] == "error":
                        raise RuntimeError(run_state["message"])
                except httpx.TransportError:
                    pass
                if server.poll() is not None:
                    raise RuntimeError("the server exited")
                await asyncio.sleep(0.5)
            (await http.patch("/api/run/hyperparams", json={"eval_every": 1000})).raise_for_status()
            for r in range(args.rounds):
                for n in (0, *args.viewers):
                    rounds.append(await measure(http, f"ws://127.0.0.1:{port}/ws", n, args.seconds, server.pid))
                    print(f"  round {r + 1}, {n} viewers: {rounds[-1].images_per_second:,.0f} img/s",
                          file=sys.stderr)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
    return rounds


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_DATA.resolve()) if SHARED_DATA.is_file() else None,
                        help="dataset for the server (default: the shared CIFAR-10 JPEG copy)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--viewers", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--probe-hz", type=float, default=2.0)
    args = parser.parse_args()
    if args.data is None:
        parser.error("no --data and no shared CIFAR-10 copy beside the repo")

    load_before = os.getloadavg()[0]
    rounds = asyncio.run(run(args))
    step_ms, probe_ms = probe_share(args.data)
    print(f"\n{describe(load_before)}")
    print(f"command: python {' '.join(sys.argv)}")
    print(f"data: {args.data}; model: convnetjs (preset recipe), evaluation off; {args.rounds} rounds of "
          f"{args.seconds:g} s, alternating\n")
    baseline = statistics.mean(r.images_per_second for r in rounds if r.viewers == 0)
    columns = ("viewers", "train img/s", "vs none", "time in steps", "server CPU", "step->client p50",
               "p95", "KB/s per viewer", "frames/s per viewer")
    print(f"| {' | '.join(columns)} |\n|{' ---: |' * len(columns)}")
    for n in (0, *args.viewers):
        mine = [r for r in rounds if r.viewers == n]
        ips = statistics.mean(r.images_per_second for r in mine)
        in_steps = statistics.mean(r.in_steps for r in mine)
        server_cpu = statistics.mean(r.server_cpu for r in mine)
        lat = [x for r in mine for x in r.latencies]
        if n == 0:
            print(f"| 0 | {ips:,.0f} | 1.00x | {in_steps:.1%} | {server_cpu:.1%} | - | - | - | - |")
            continue
        print(f"| {n} | {ips:,.0f} | {ips / baseline:.2f}x | {in_steps:.1%} | {server_cpu:.1%} | {percentile(lat, 50) * 1e3:.0f} ms | "
              f"{percentile(lat, 95) * 1e3:.0f} ms | {statistics.mean(r.bytes_per_second for r in mine) / 1e3:,.1f} | "
              f"{statistics.mean(r.frames_per_second for r in mine):.2f} |")
    print(f"\nprobe: {probe_ms:.1f} ms each vs {step_ms:.1f} ms per training step; at {args.probe_hz:g} Hz "
          f"that is {probe_ms * args.probe_hz / 10:.1f}% of the worker's time")


if __name__ == "__main__":
    main()
