"""Server CPU per classification, by the parts asked for (POST /api/classify ?parts=, GET /api/classify/{id}).

Starts `convscope serve` on CIFAR-10 (the shared JPEG copy) and gives it a trained network: the
checkpoint --checkpoint names (`convscope train --model convnetjs --epochs 2 --checkpoint FILE`:
61% test accuracy), or, without one, the run as it is after --train-seconds of training, paused.
Either way the worker then idles, and the feature index of every training image is awaited, so
`neighbours` searches all of them as in a classroom. Then for --rounds rounds, each request kind is
a block of --n requests sent one at a time; its cost is the server process's CPU (utime + stime
from /proc, HTTP, multipart, decoding, classifying and JSON included) over the block, less the
process's idle CPU rate over the same wall time, per request. Medians over the rounds (and the
least), Server-Timing's median, and the answer's size. The worker's CPU is not counted: it idles.

    python benchmarks/classify_cost.py [--checkpoint run.pt] [--n 40] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from load import RAISED, SHARED_DATA, cpu_seconds, free_port, upload_images
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
PAGE = "gradcam,gradient,neighbours"  # static/js/views/classify.js with the classify panel on screen
KINDS = [  # (what, POST query, then GET parts: the follow-up's own cost is measured, not the POST's)
    ("whole answer (no parts: as before parts existed)", {"top": 10}, None),
    (f"parts={PAGE} (the page, layer view off screen)", {"top": 10, "parts": PAGE}, None),
    ("parts=gradcam,gradient", {"top": 10, "parts": "gradcam,gradient"}, None),
    ("parts=prediction", {"top": 10, "parts": "prediction"}, None),
    ("then GET /api/classify/{id}?parts=frame (the layer view scrolled to)", {"top": 10, "parts": PAGE}, "frame"),
]


class Server:
    def __init__(self, data: str, tmp: Path) -> None:
        self.port, self.token = free_port(), secrets.token_urlsafe()
        self.log = tmp / "server.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "convscope", "serve", "--port", str(self.port),
                                      "--runs-dir", str(tmp / "runs"), "--data", data, "--no-browser",
                                      f"--token={self.token}"], cwd=ROOT, env={**os.environ, **RAISED},
                                     stderr=self.log.open("wb"))
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60,
                                 headers={"Authorization": f"Bearer {self.token}"})

    def idle_rate(self, seconds: float = 3.0) -> float:
        c0, t0 = cpu_seconds(self.proc.pid), time.monotonic()
        time.sleep(seconds)
        return (cpu_seconds(self.proc.pid) - c0) / (time.monotonic() - t0)

    def block(self, items: list[bytes], params: dict, follow: str | None, n: int) -> tuple[float, float, float]:
        """(CPU ms per request, Server-Timing median ms, answer kB) over n requests; for a follow-up
        kind, of the GETs alone."""
        idle = self.idle_rate()
        cpu, timings, sizes = 0.0, [], []
        c0, t0 = cpu_seconds(self.proc.pid), time.monotonic()
        for i in range(n):
            r = self.http.post("/api/classify", params=params, files={"file": ("upload.jpg", items[i % len(items)])})
            r.raise_for_status()
            if follow:
                c1, t1 = cpu_seconds(self.proc.pid), time.monotonic()
                r = self.http.get(f"/api/classify/{r.json()['id']}", params={"parts": follow, "top": 10})
                r.raise_for_status()
                cpu += cpu_seconds(self.proc.pid) - c1 - idle * (time.monotonic() - t1)
            timings.append(float(r.headers["server-timing"].split("dur=")[1]))
            sizes.append(len(r.content))
        if not follow:
            cpu = cpu_seconds(self.proc.pid) - c0 - idle * (time.monotonic() - t0)
        return cpu / n * 1e3, statistics.median(timings), statistics.mean(sizes) / 1e3


def wait_for_training(server: Server) -> None:
    while True:
        try:
            run = server.http.get("/api/run").json()
            if run["status"] == "training":
                return
            if run["status"] == "error":
                raise RuntimeError(run["message"])
        except httpx.TransportError:
            pass
        if server.proc.poll() is not None:
            raise RuntimeError("the server exited")
        time.sleep(0.5)


def trained(server: Server, checkpoint: str | None, seconds: float, probe: bytes) -> dict:
    """Train or load the network, leave the worker idle, and wait for the feature index."""
    http = server.http
    wait_for_training(server)
    if checkpoint:
        with open(checkpoint, "rb") as f:
            http.post("/api/checkpoint", params={"name": "benchmark"}, files={"file": ("run.pt", f)}).raise_for_status()
    else:
        time.sleep(seconds)
    http.post("/api/run/pause")
    while (run := http.get("/api/run").json())["status"] not in ("paused", "finished"):
        time.sleep(0.3)
    deadline = time.monotonic() + 900
    while not ((body := http.post("/api/classify", files={"file": ("upload.jpg", probe)}).json())
               ["neighbours"] or {}).get("items"):
        if time.monotonic() > deadline:
            raise RuntimeError("no feature index within 15 minutes")
        time.sleep(1.0)
    return {**run, "index_step": body["neighbours"]["step"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_DATA.resolve()) if SHARED_DATA.is_file() else None)
    parser.add_argument("--checkpoint", help="a trained checkpoint to classify with (default: train a while)")
    parser.add_argument("--train-seconds", type=float, default=120.0, help="without --checkpoint: training first")
    parser.add_argument("--n", type=int, default=40, help="requests per block (the photo: a quarter of it)")
    parser.add_argument("--rounds", type=int, default=5, help="blocks of each kind, interleaved")
    args = parser.parse_args()
    if args.data is None:
        parser.error("no --data and no shared CIFAR-10 copy beside the repo")
    small, photo = upload_images(args.data, (1600, 1200))
    uploads = [("32x32 CIFAR-10 JPEG", [u.data for u in small], args.n),
               (photo.name, [photo.data], max(10, args.n // 4))]
    load_before = os.getloadavg()[0]
    samples: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(args.data, Path(tmp))
        try:
            run = trained(server, args.checkpoint, args.train_seconds, small[0].data)
            print(f"  {run['model']} at step {run['step']}, feature index of step {run['index_step']}", file=sys.stderr)
            for r in range(args.rounds):
                for what, params, follow in KINDS:
                    for name, items, n in uploads:
                        if r == 0:
                            server.block(items, params, follow, 5)  # warm up
                        samples.setdefault((what, name), []).append(server.block(items, params, follow, n))
                print(f"  round {r + 1} of {args.rounds} done", file=sys.stderr)
        except BaseException:
            sys.stderr.write(server.log.read_text(errors="replace")[-4000:])
            raise
        finally:
            server.proc.send_signal(signal.SIGINT)
            server.proc.wait(30)
    print(f"\n{describe(load_before)}")
    print(f"command: python {' '.join(sys.argv)}")
    print(f"network: {run['model']} at step {run['step']} ({'--checkpoint ' + args.checkpoint if args.checkpoint else 'trained here'}); "
          f"neighbours searched over the feature index of all {run['dataset']['train_size']:,} training images\n")
    print(f"| request | upload | server CPU per request: median of {args.rounds} (least) | Server-Timing p50 | answer |")
    print("| --- | --- | ---: | ---: | ---: |")
    for (what, name), rows in samples.items():
        cpus = [row[0] for row in rows]
        print(f"| {what} | {name} | {statistics.median(cpus):.1f} ms ({min(cpus):.1f}) | "
              f"{statistics.median(row[1] for row in rows):.1f} ms | {rows[0][2]:,.1f} kB |")


if __name__ == "__main__":
    main()
