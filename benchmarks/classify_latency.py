"""Classify latency with training running, retrieval over the training set, and what it costs training.

Starts `convscope serve` (convnetjs, its preset recipe, real CIFAR-10 when the shared copy is
there) as a subprocess and, while it trains:

1. classifies one image and waits for the first feature index of the training images, built by
   the worker in the background at <= 5% of its time: how long that takes is how stale an index
   gets (the response's `neighbours.age` when it lands);
2. sends --requests classifications of each kind of upload back to back, one at a time, and
   reports p50 / p95 of the server's own time (the `Server-Timing` header: from the request's
   arrival to the answer, upload parsing, decoding, classifying, Grad-CAM, gradients, every
   layer's maps, retrieval over all training images and JSON included) and of the round trip
   seen by the client;
3. measures training images/s over alternating windows with no classifications and with
   classifications back to back (the worst case: someone uploading non-stop);
4. times FeatureIndex.search over an index of the training set's size in this process, on one
   thread, while the server trains.

The server's per-client rate limit on classifications is lifted for the measurement.

    python benchmarks/classify_latency.py [--data ../shared/datasets/cifar10-jpeg.zip] [--requests 100]
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import torch
from machine import describe
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED_DATA = ROOT / "../shared/datasets/cifar10-jpeg.zip"


@dataclass
class Kind:
    name: str
    data: bytes
    params: dict


def uploads(http: httpx.Client) -> list[Kind]:
    """A CIFAR test image as PNG, and the same picture as a web-sized and a phone-sized JPEG."""
    png = http.get("/api/images/test/3.png").content
    small = Image.open(io.BytesIO(png)).convert("RGB")
    rng = np.random.default_rng(0)

    def photo(width: int, height: int) -> bytes:
        big = np.asarray(small.resize((width, height), Image.Resampling.BICUBIC), np.float32)
        grain = rng.normal(0, 6, big.shape)  # camera noise: JPEG cannot squeeze it away
        out = io.BytesIO()
        Image.fromarray((big + grain).clip(0, 255).astype(np.uint8)).save(out, "JPEG", quality=92)
        return out.getvalue()

    full = {"neighbours": 8, "frame": "true"}
    return [Kind("32x32 PNG (a CIFAR test image)", png, full),
            Kind("1024x768 JPEG", photo(1024, 768), full),
            Kind("4032x3024 JPEG (12 MP phone photo)", photo(4032, 3024), full),
            Kind("32x32 PNG, no neighbours, no layer maps", png, {"neighbours": 0, "frame": "false"})]


def classify(http: httpx.Client, kind: Kind) -> tuple[float, float, dict]:
    """(server ms, round-trip ms, body) of one request; the body's size in bytes under "_bytes"."""
    start = time.perf_counter()
    response = http.post("/api/classify", files={"file": ("upload", kind.data)}, params=kind.params)
    round_trip = (time.perf_counter() - start) * 1e3
    response.raise_for_status()
    server = float(response.headers["server-timing"].split("dur=")[1])
    return server, round_trip, {**response.json(), "_bytes": len(response.content)}


def wait_for_training(http: httpx.Client, server: subprocess.Popen, steps: int = 50) -> None:
    while True:
        try:
            run = http.get("/api/run").json()
            if run["status"] == "training" and run["step"] > steps:
                return
            if run["status"] == "error":
                raise RuntimeError(run["message"])
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            raise RuntimeError("the server exited")
        time.sleep(0.5)


def first_index(http: httpx.Client, kind: Kind, limit: float) -> tuple[float, dict]:
    """Seconds from the first classification until neighbours come back, and that body."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        _, _, body = classify(http, kind)
        if body["neighbours"]["items"]:
            return time.monotonic() - start, body
        time.sleep(2.0)
    raise RuntimeError(f"no feature index within {limit:.0f} s")


def images_per_second(http: httpx.Client, seconds: float, load: Kind | None) -> float:
    """Training images/s over `seconds` of wall-clock time, classifying back to back if `load`."""
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=http.base_url, timeout=60) as own:
            while not stop.is_set():
                classify(own, load)

    thread = threading.Thread(target=hammer) if load else None
    if thread:
        thread.start()
    before, start = http.get("/api/run").json(), time.monotonic()
    time.sleep(seconds)
    after, wall = http.get("/api/run").json(), time.monotonic() - start
    stop.set()
    if thread:
        thread.join()
    return (after["images_seen"] - before["images_seen"]) / wall


def search_times(rows: int, dim: int, repeats: int = 200) -> list[float]:
    """ms per FeatureIndex.search over `rows` unit vectors, one thread, as the server runs it."""
    from convscope.inference import FeatureIndex

    torch.set_num_threads(1)
    features = torch.nn.functional.normalize(torch.randn(rows, dim), dim=1).to(torch.float16)
    index = FeatureIndex(features, torch.nn.Identity(), 0)
    times = []
    for i in range(repeats):
        query = features[i]
        start = time.perf_counter()
        index.search(query, 8)
        times.append((time.perf_counter() - start) * 1e3)
    return times


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_DATA.resolve()) if SHARED_DATA.is_file() else None,
                        help="dataset for the server (default: the shared CIFAR-10 JPEG copy)")
    parser.add_argument("--requests", type=int, default=100, help="classifications of each kind")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each training-speed window")
    parser.add_argument("--index-limit", type=float, default=900.0,
                        help="seconds to wait for the first feature index")
    args = parser.parse_args()
    if args.data is None:
        parser.error("no --data and no shared CIFAR-10 copy beside the repo")

    load_before = os.getloadavg()[0]
    port = free_port()
    unlimited = {"CONVSCOPE_CLASSIFY_PER_MINUTE": "1000000", "CONVSCOPE_CLASSIFY_BURST": "1000000"}
    server = subprocess.Popen([sys.executable, "-m", "convscope", "serve", "--port", str(port),
                               "--runs-dir", tempfile.mkdtemp(prefix="convscope-bench-"), "--data", args.data,
                               "--epochs", "1000", "--no-browser"], cwd=ROOT, env={**os.environ, **unlimited})
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            wait_for_training(http, server)
            kinds = uploads(http)
            run = http.get("/api/run").json()
            train_size = run["dataset"]["train_size"]
            print(f"training {run['model']} on {run['dataset']['source']}; waiting for the feature index",
                  file=sys.stderr)
            index_wait, body = first_index(http, kinds[0], args.index_limit)
            index_age = body["neighbours"]["age"]
            results: list[tuple[Kind, list[float], list[float]]] = []
            for kind in kinds:
                server_ms, round_ms = [], []
                for _ in range(args.requests):
                    s, r, body = classify(http, kind)
                    server_ms.append(s)
                    round_ms.append(r)
                results.append((kind, server_ms, round_ms))
                print(f"  {kind.name}: p50 {percentile(server_ms, 50):.1f} ms", file=sys.stderr)
            speeds: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(2):
                for loaded in (False, True):
                    speeds[loaded].append(images_per_second(http, args.seconds, kinds[1] if loaded else None))
            _, _, full = classify(http, kinds[0])
            dim = 320  # convnetjs: the fc layer's input, 20 channels x 4 x 4
            search = search_times(train_size, dim)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)

    print(f"\n{describe(load_before)} (this process; the server classifies on 1 thread too)")
    print(f"command: python {' '.join(sys.argv)}")
    print(f"data: {args.data}; model: convnetjs (preset recipe) training throughout; "
          f"{args.requests} requests of each kind, one at a time\n")
    print("| upload | bytes | server p50 | server p95 | round trip p50 | round trip p95 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for kind, server_ms, round_ms in results:
        print(f"| {kind.name} | {len(kind.data):,} | {percentile(server_ms, 50):.1f} ms | {percentile(server_ms, 95):.1f} ms"
              f" | {percentile(round_ms, 50):.1f} ms | {percentile(round_ms, 95):.1f} ms |")
    quiet, busy = statistics.mean(speeds[False]), statistics.mean(speeds[True])
    print(f"\ntraining: {quiet:,.0f} img/s with no classifications, {busy:,.0f} img/s while classifying "
          f"1024x768 JPEGs back to back ({busy / quiet:.2f}x)")
    print(f"retrieval: FeatureIndex.search over {train_size:,} x {dim} features, one thread: "
          f"p50 {percentile(search, 50):.2f} ms, p95 {percentile(search, 95):.2f} ms")
    print(f"feature index: the first arrived {index_wait:.0f} s after the first classification, built from "
          f"weights {index_age:.0f} s old (how stale an index gets while training)")
    print(f"response: {full['_bytes'] / 1e3:.0f} kB of JSON for a full answer, {len(full['frame']) / 1e3:.0f} kB "
          f"of it the layer maps (base64)")


if __name__ == "__main__":
    main()
