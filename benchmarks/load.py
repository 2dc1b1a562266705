"""Load: many viewers and a stream of uploads at once; does training keep its speed, and memory its bound?

Starts `convscope serve` (convnetjs, its preset recipe) as a subprocess with the per-address
limits on classifying raised (every upload comes from 127.0.0.1, so the defaults would answer
most of them 429) and, once it trains, with test-set evaluations switched off:

1. Alternating rounds of two windows of the same length: a baseline with no viewers and no
   uploads, then a loaded window with --viewers websocket clients that read everything and
   --uploads classifications per second (POST /api/classify, sent on a fixed schedule whether or
   not earlier ones have answered: small real CIFAR-10 JPEGs, and every --photo-every'th a
   photo-sized JPEG made with Pillow). --mix says what each upload asks for: `full`, the whole
   answer (no `parts`: what scripts get, and what the page asked for before it asked for parts);
   `page`, what the page asks for with its classify panel on screen and its layer view not (top
   10, Grad-CAM, the input gradient and 8 neighbours), and for --layers-share of the uploads, once
   answered, the layer maps too (GET /api/classify/{id}?parts=frame: the viewer scrolled down to
   the layer view). Training images/s comes from GET /api/run's images_seen
   over wall-clock time; "in steps" is the share of the worker's wall-clock time spent in
   training steps (it hardly moves when other programs load the machine). For every viewer:
   did a metrics message reach it in each 5-second slice, and its metrics messages/s. Uploads:
   round trip and server time (Server-Timing) p50/p95 and every answer that was not 200.
2. Stalled viewers: readers only for --control-seconds, then --stalled more clients that
   complete the websocket handshake on a socket with a tiny receive buffer and never read again
   (TCP backpressure builds for real), for --stall-seconds. The server's RSS over that time
   (does it level off?), the kernel's queues of the stalled connections (evidence that the
   server stopped writing), and whether the reading viewers noticed.

The RSS of the server and of its worker (a child process) is sampled every second throughout
(psutil if installed, else /proc/<pid>/status VmRSS). The viewers and uploads run in this
process, on the same machine: its CPU is reported beside the server's and the worker's, since
on a machine with few cores it competes with training like any other program.

Reading the numbers on a shared machine: images/s follows whatever else runs there (the worker's
CPU per window is printed), so judge the worker's own extra work by "in steps" and "img per
worker CPU s", which move little with the machine's load. An upload keeps the worker building a
feature index for 5 minutes (server/worker/feed.py), so every baseline after the first loaded
window pays for that index too; the first baseline is the only one without it.

    python benchmarks/load.py [--data ../shared/datasets/cifar10-jpeg.zip] [--seconds 60]
                              [--rounds 2] [--viewers 200] [--uploads 20] [--stalled 20]
    python benchmarks/load.py --seconds 10 --rounds 1 --viewers 50 --stall-seconds 15   # smoke run
    python benchmarks/load.py --seconds 30 --rounds 2 --stalled 0 --mix page   # the page's requests
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
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
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from websockets.asyncio.client import connect

from machine import describe

try:
    import psutil
except ImportError:  # /proc is enough on Linux
    psutil = None

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT / "../shared/datasets/cifar10-jpeg.zip"
SETTLE = 3.0  # seconds after every viewer has its hello before measuring
SLICE = 5.0  # seconds: a viewer must get a metrics message in every slice of this length
PAGE_PARTS = "gradcam,gradient,neighbours"  # static/js/views/classify.js: the classify panel's parts
MIXES = {"full": {}, "page": {"top": 10, "neighbours": 8, "parts": PAGE_PARTS}}  # query of each upload
INTEREST = 300.0  # server/worker/feed.py: the feature index is kept up this long after an upload
RAISED = {"CONVSCOPE_CLASSIFY_PER_MINUTE": "1000000", "CONVSCOPE_CLASSIFY_BURST": "1000000",
          "CONVSCOPE_MAX_VIEWERS": "10000"}  # defaults: 60 per minute, burst 20, 500 viewers


# -- processes: CPU and memory from /proc (or psutil) ---------------------------------------------
def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (Linux), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss(pid: int | None) -> int | None:
    """Resident set size in bytes, None when the process is gone."""
    if pid is None:
        return None
    try:
        if psutil is not None:
            return psutil.Process(pid).memory_info().rss
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError) if psutil is None else (OSError, psutil.Error):
        return None
    return None


def worker_pid(server: int) -> int | None:
    """The training worker: the server's child started by multiprocessing's spawn_main."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == server and b"spawn_main" in Path(entry.path, "cmdline").read_bytes():
                return int(entry.name)
        except (OSError, ValueError, IndexError):
            continue
    return None


@dataclass
class Sample:
    t: float  # monotonic
    phase: str
    server: int | None  # RSS bytes
    worker: int | None


@dataclass
class Memory:
    """Samples both processes' RSS every second, each tagged with the phase it fell in."""
    server: int
    phase: str = "start"
    worker: int | None = None
    samples: list[Sample] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            if rss(self.worker) is None:
                self.worker = worker_pid(self.server)
            self.samples.append(Sample(time.monotonic(), self.phase, rss(self.server), rss(self.worker)))
            await asyncio.sleep(1.0)

    def of(self, phase: str) -> list[Sample]:
        return [s for s in self.samples if s.phase == phase]


class Cpu:
    """CPU seconds of the server, the worker and this process, per wall-clock second, over a window."""

    def __init__(self, memory: Memory) -> None:
        self.memory = memory
        self.start = self.read()

    def read(self) -> tuple[float, float, float, float]:
        return (time.monotonic(), cpu_seconds(self.memory.server), cpu_seconds(self.memory.worker),
                time.process_time())

    def shares(self) -> tuple[float, float, float]:
        now = self.read()
        wall = now[0] - self.start[0]
        return tuple((b - a) / wall for a, b in zip(self.start[1:], now[1:]))


# -- viewers ----------------------------------------------------------------------------------------
@dataclass
class Viewer:
    """One websocket client that reads everything; notes when each metrics message arrived."""
    timed: bool = False  # also note the latency from each step's end to its arrival
    hellos: int = 0  # more than one: the server resynced it (it had fallen behind)
    arrivals: list[float] = field(default_factory=list)  # monotonic, metrics messages
    latencies: list[float] = field(default_factory=list)  # seconds
    bytes: int = 0
    closed: str | None = None  # why the connection ended before we closed it

    async def watch(self, url: str, connected: asyncio.Event) -> None:
        try:
            async with connect(url, max_size=None, ping_interval=None, open_timeout=60) as ws:
                async for item in ws:
                    self.bytes += len(item)
                    if isinstance(item, bytes):
                        continue
                    if item.startswith('{"type":"metrics"'):
                        self.arrivals.append(time.monotonic())
                        if self.timed:
                            now = time.time()
                            self.latencies += [now - p["time"] for p in json.loads(item)["points"]]
                    elif item.startswith('{"type":"hello"'):
                        self.hellos += 1
                        connected.set()
                self.closed = f"closed by the server ({ws.close_code})"
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - reported, not raised: one viewer must not end the run
            self.closed = f"{type(e).__name__}: {e}"
        finally:
            connected.set()


class Crowd:
    """N viewers connected at once; `start` returns when every one has its hello."""

    def __init__(self, url: str, n: int, timed_every: int = 10) -> None:
        self.viewers = [Viewer(timed=i % timed_every == 0) for i in range(n)]
        self.events = [asyncio.Event() for _ in range(n)]
        self.url = url
        self.tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self.tasks = [asyncio.create_task(v.watch(self.url, e)) for v, e in zip(self.viewers, self.events)]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self.events)), 120)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@dataclass
class Reception:
    """What the viewers got between two instants."""
    viewers: int
    per_slice: list[int]  # viewers with at least one metrics message in each slice
    min_per_slice: list[int]  # fewest metrics messages any viewer got in each slice
    rates: list[float]  # metrics messages/s of each viewer
    latencies: list[float]  # step end -> arrival, seconds (the timed viewers)
    resynced: int  # viewers that got more than one hello
    dropped: list[str]  # why connections ended early
    kb_per_second: float  # per viewer


def reception(crowd: Crowd, start: float, end: float, wall_start: float) -> Reception:
    slices = max(1, int((end - start) // SLICE))
    per_slice, min_per_slice = [], []
    for k in range(slices):
        a, b = start + k * SLICE, start + (k + 1) * SLICE
        counts = [sum(a <= t < b for t in v.arrivals) for v in crowd.viewers]
        per_slice.append(sum(c > 0 for c in counts))
        min_per_slice.append(min(counts, default=0))
    vs = crowd.viewers
    return Reception(len(vs), per_slice, min_per_slice,
                     [sum(start <= t < end for t in v.arrivals) / (end - start) for v in vs],
                     [x for v in vs for x in v.latencies],
                     sum(v.hellos > 1 for v in vs), [v.closed for v in vs if v.closed],
                     sum(v.bytes for v in vs) / max(len(vs), 1) / (time.monotonic() - wall_start) / 1e3)


# -- uploads -------------------------------------------------------------------------------------
@dataclass
class Upload:
    name: str
    data: bytes


def upload_images(data: str, photo_size: tuple[int, int], count: int = 64) -> tuple[list[Upload], Upload]:
    """Real 32x32 CIFAR-10 test JPEGs from the zip, and one photo-sized JPEG made from one of them."""
    small: list[Upload] = []
    if zipfile.is_zipfile(data):
        with zipfile.ZipFile(data) as z:
            names = sorted(n for n in z.namelist() if n.startswith("test/") and n.endswith(".jpg"))
            small = [Upload(n, z.read(n)) for n in names[:: max(1, len(names) // count)][:count]]
    if not small:  # not the shared zip: make small JPEGs from noise (the rest is unchanged)
        rng = np.random.default_rng(1)
        for i in range(count):
            out = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), np.uint8)).save(out, "JPEG", quality=75)
            small.append(Upload(f"noise {i}", out.getvalue()))
    base = Image.open(io.BytesIO(small[0].data)).convert("RGB")
    big = np.asarray(base.resize(photo_size, Image.Resampling.BICUBIC), np.float32)
    grain = np.random.default_rng(0).normal(0, 6, big.shape)  # camera noise: JPEG cannot squeeze it away
    out = io.BytesIO()
    Image.fromarray((big + grain).clip(0, 255).astype(np.uint8)).save(out, "JPEG", quality=92)
    return small, Upload(f"{photo_size[0]}x{photo_size[1]} JPEG", out.getvalue())


@dataclass
class Answer:
    kind: str  # "small", "photo", or "layers" (a follow-up: GET /api/classify/{id}?parts=frame)
    status: str  # "200", "429 busy", "429 rate limit", "503", "ReadTimeout", ...
    round_trip: float  # ms
    server: float | None  # ms, Server-Timing
    index: int | None = None  # step of the feature index behind the neighbours (read for every 10th)
    bytes: int = 0  # of the answer


async def ask(http: httpx.AsyncClient, kind: str, answers: list[Answer], read: bool, method: str, url: str,
              **request) -> httpx.Response | None:
    start = time.perf_counter()
    index, r = None, None
    try:
        r = await http.request(method, url, **request)
        status = str(r.status_code)
        if r.status_code == 429:
            status += " busy" if "already waiting" in r.text else " rate limit"
        timing = r.headers.get("server-timing", "")
        server = float(timing.split("dur=")[1]) if "dur=" in timing else None
        if read and r.status_code == 200:
            index = (r.json()["neighbours"] or {}).get("step")
    except httpx.HTTPError as e:
        status, server = type(e).__name__, None
    answers.append(Answer(kind, status, (time.perf_counter() - start) * 1e3, server, index,
                          len(r.content) if r is not None else 0))
    return r


async def upload(http: httpx.AsyncClient, item: Upload, kind: str, answers: list[Answer], read: bool,
                 mix: str = "full", layers: bool = False) -> None:
    """One upload as --mix asks it; `layers`: then its layer maps, as the page fetches them."""
    r = await ask(http, kind, answers, read, "POST", "/api/classify", params=MIXES[mix],
                  files={"file": ("upload.jpg", item.data, "image/jpeg")})
    if layers and r is not None and r.status_code == 200 and r.json()["id"]:
        await ask(http, "layers", answers, False, "GET", f"/api/classify/{r.json()['id']}", params={"parts": "frame"})


async def uploader(http: httpx.AsyncClient, rate: float, small: list[Upload], photo: Upload,
                   photo_every: int, answers: list[Answer], inflight: set[asyncio.Task],
                   mix: str = "full", layers_share: float = 0.0) -> None:
    """Starts `rate` uploads a second on a fixed schedule (an open loop: slow answers pile up)."""
    loop, i = asyncio.get_running_loop(), 0
    due = loop.time()
    followed = 0.0  # follow-ups owed: every upload adds layers_share, each follow-up takes 1
    while True:
        is_photo = photo_every > 0 and i % photo_every == photo_every - 1
        item = photo if is_photo else small[i % len(small)]
        followed += layers_share if mix == "page" else 0.0
        layers = followed >= 1.0
        followed -= layers
        task = asyncio.create_task(upload(http, item, "photo" if is_photo else "small", answers, i % 10 == 0,
                                          mix, layers))
        inflight.add(task)
        task.add_done_callback(inflight.discard)
        i += 1
        due += 1.0 / rate
        await asyncio.sleep(max(0.0, due - loop.time()))


class LoopLag:
    """How late this process's event loop wakes up: whether the load generator keeps up."""

    def __init__(self) -> None:
        self.lags: list[float] = []

    async def run(self, period: float = 0.05) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(period)
            self.lags.append(loop.time() - before - period)


# -- one measured window -------------------------------------------------------------------------------
@dataclass
class Window:
    loaded: bool
    images_per_second: float
    in_steps: float
    cpu: tuple[float, float, float]  # server, worker, this process: cores
    since_upload: float | None  # seconds since the last upload when the window began
    seen: Reception | None = None
    answers: list[Answer] = field(default_factory=list)
    lag_p99: float = 0.0  # seconds


async def run_state(http: httpx.AsyncClient) -> dict:
    return (await http.get("/api/run")).json()


async def measure(ctx: "Context", loaded: bool) -> Window:
    args = ctx.args
    crowd = Crowd(ctx.ws_url, args.viewers if loaded else 0)
    ctx.memory.phase = f"round {ctx.round} " + ("loaded" if loaded else "baseline")
    wall_start = time.monotonic()
    await crowd.start()
    await asyncio.sleep(SETTLE if loaded else 1.0)
    since = None if ctx.last_upload is None else time.monotonic() - ctx.last_upload
    answers: list[Answer] = []
    inflight: set[asyncio.Task] = set()
    lag = LoopLag()
    lag_task = asyncio.create_task(lag.run())
    cpu = Cpu(ctx.memory)
    print(f"  round {ctx.round}, {'loaded' if loaded else 'baseline'}: measuring for {args.seconds:g} s",
          file=sys.stderr)
    before, start = await run_state(ctx.http), time.monotonic()
    sender = asyncio.create_task(uploader(ctx.uploads, args.uploads, ctx.small, ctx.photo, args.photo_every,
                                          answers, inflight, args.mix, args.layers_share)) \
        if loaded and args.uploads > 0 else None
    await asyncio.sleep(args.seconds)
    if sender:
        sender.cancel()
        ctx.last_upload = time.monotonic()
    after, end = await run_state(ctx.http), time.monotonic()
    shares = cpu.shares()
    lag_task.cancel()
    seen = reception(crowd, start, end, wall_start) if crowd.viewers else None
    if inflight:
        await asyncio.wait(set(inflight), timeout=60)
    await crowd.stop()
    if after["step"] < before["step"]:
        raise RuntimeError("the run restarted during the measurement")
    wall = end - start
    window = Window(loaded, (after["images_seen"] - before["images_seen"]) / wall,
                    (after["seconds"] - before["seconds"]) / wall, shares, since, seen, answers,
                    percentile(lag.lags, 99) if lag.lags else 0.0)
    print(f"  round {ctx.round}, {'loaded' if loaded else 'baseline'}: {window.images_per_second:,.0f} img/s, "
          f"{window.in_steps:.1%} in steps, server {shares[0]:.2f} / worker {shares[1]:.2f} / "
          f"load generator {shares[2]:.2f} cores", file=sys.stderr)
    return window


# -- stalled viewers ------------------------------------------------------------------------------------
def stalled_socket(port: int) -> socket.socket:
    """A websocket client that completes the handshake and never reads again (4 KiB receive buffer)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window stays small
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):  # the 101 answer, a byte at a time so nothing more is read
        byte = s.recv(1)
        if not byte:
            raise RuntimeError("the server closed a stalled viewer during the handshake")
        head += byte
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"websocket handshake refused: {head.splitlines()[0].decode()}")
    return s


def tcp_queues(port: int, clients: list[int]) -> tuple[list[int], list[int], int]:
    """Per stalled connection, from /proc/net/tcp: the server's send queue and the client's receive
    queue in bytes, and how many of the client sockets are still ESTABLISHED (not closed by the server)."""
    send, recv, open_ = {}, {}, 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local, remote = int(parts[1].split(":")[1], 16), int(parts[2].split(":")[1], 16)
        tx, rx = (int(x, 16) for x in parts[4].split(":"))
        if local == port and remote in clients:
            send[remote] = tx
        elif remote == port and local in clients:
            recv[local] = rx
            open_ += parts[3] == "01"
    return [send.get(c, 0) for c in clients], [recv.get(c, 0) for c in clients], open_


@dataclass
class Stall:
    control: Reception
    stalled: Reception
    control_ips: float
    stalled_ips: float
    control_cpu: tuple[float, float, float]  # server, worker, this process: cores
    stalled_cpu: tuple[float, float, float]
    rss: list[tuple[float, int | None, int | None]]  # (seconds since the stall began, server, worker)
    before: tuple[int | None, int | None]
    after: tuple[int | None, int | None]  # after the stalled viewers left
    send_queues: list[int]
    recv_queues: list[int]
    still_open: int  # stalled connections the server had not closed


async def stall(ctx: "Context") -> Stall:
    args = ctx.args
    ctx.memory.phase = "stall: readers only"
    crowd = Crowd(ctx.ws_url, args.viewers)
    wall_start = time.monotonic()
    await crowd.start()
    await asyncio.sleep(SETTLE)
    state, start, cpu = await run_state(ctx.http), time.monotonic(), Cpu(ctx.memory)
    await asyncio.sleep(args.control_seconds)
    state2, mid, control_cpu = await run_state(ctx.http), time.monotonic(), cpu.shares()
    before = (rss(ctx.memory.server), rss(ctx.memory.worker))
    control = reception(crowd, start, mid, wall_start)
    control_ips = (state2["images_seen"] - state["images_seen"]) / (mid - start)

    ctx.memory.phase = "stall: readers + stalled"
    sockets = [await asyncio.to_thread(stalled_socket, ctx.port) for _ in range(args.stalled)]
    began, cpu = time.monotonic(), Cpu(ctx.memory)
    print(f"  {len(sockets)} stalled viewers connected", file=sys.stderr)
    await asyncio.sleep(args.stall_seconds)
    state3, end, stalled_cpu = await run_state(ctx.http), time.monotonic(), cpu.shares()
    ports = [s.getsockname()[1] for s in sockets]
    send_q, recv_q, still_open = tcp_queues(ctx.port, ports)
    stalled = reception(crowd, began, end, wall_start)
    stalled_ips = (state3["images_seen"] - state2["images_seen"]) / (end - mid)
    rss_series = [(s.t - began, s.server, s.worker) for s in ctx.memory.of("stall: readers + stalled")]
    for s in sockets:
        s.close()
    await crowd.stop()
    ctx.memory.phase = "stall: after"
    await asyncio.sleep(5.0)
    after = (rss(ctx.memory.server), rss(ctx.memory.worker))
    print(f"  stall: {control_ips:,.0f} img/s readers only, {stalled_ips:,.0f} img/s with stalled viewers",
          file=sys.stderr)
    return Stall(control, stalled, control_ips, stalled_ips, control_cpu, stalled_cpu, rss_series, before, after,
                 send_q, recv_q, still_open)


# -- the run ----------------------------------------------------------------------------------------------
@dataclass
class Context:
    args: argparse.Namespace
    port: int
    http: httpx.AsyncClient  # the owner's: reads the run, switches evaluation off
    uploads: httpx.AsyncClient
    memory: Memory
    small: list[Upload]
    photo: Upload
    round: int = 0
    last_upload: float | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_for_training(http: httpx.AsyncClient, server: subprocess.Popen, steps: int = 50) -> dict:
    while True:
        try:
            state = await run_state(http)
            if state["status"] == "training" and state["step"] > steps:
                return state
            if state["status"] == "error":
                raise RuntimeError(state["message"])
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            raise RuntimeError("the server exited")
        await asyncio.sleep(0.5)


async def run(args: argparse.Namespace, tmp: Path) -> tuple[list[Window], Stall | None, Memory, dict]:
    port = free_port()
    token = secrets.token_urlsafe()  # the owner's: the benchmark switches evaluation off
    small, photo = upload_images(args.data, args.photo_size)
    log = tmp / "server.log"
    with log.open("wb") as err:  # a run store of its own: the benchmark's runs do not join the user's
        server = subprocess.Popen([sys.executable, "-m", "convscope", "serve", "--port", str(port),
                                   "--runs-dir", str(tmp / "runs"), "--data", args.data, "--epochs", "1000",
                                   "--no-browser", f"--token={token}"],  # = : a token may start with '-'
                                  cwd=ROOT, env={**os.environ, **RAISED}, stderr=err)
    memory = Memory(server.pid)
    sampler = asyncio.create_task(memory.run())
    windows: list[Window] = []
    stalled = None
    try:
        async with (httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                      headers={"Authorization": f"Bearer {token}"}) as http,
                    httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                      limits=httpx.Limits(max_connections=100)) as uploads):
            memory.phase = "loading"
            state = await wait_for_training(http, server)
            print(f"  training: server pid {server.pid}, worker pid {worker_pid(server.pid)}", file=sys.stderr)
            (await http.patch("/api/run/hyperparams", json={"eval_every": 1000})).raise_for_status()
            ctx = Context(args, port, http, uploads, memory, small, photo)
            for r in range(args.rounds):
                ctx.round = r + 1
                windows.append(await measure(ctx, loaded=False))
                windows.append(await measure(ctx, loaded=True))
            if args.stalled > 0:
                stalled = await stall(ctx)
            memory.phase = "end"
            await asyncio.sleep(1.5)
    except BaseException:
        sys.stderr.write(log.read_text(errors="replace")[-4000:])
        raise
    finally:
        sampler.cancel()
        server.send_signal(signal.SIGINT)
        server.wait(30)
    return windows, stalled, memory, state


# -- the report --------------------------------------------------------------------------------------------
def percentile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.0f}"


def report(args: argparse.Namespace, windows: list[Window], stalled: Stall | None, memory: Memory,
           state: dict, loads: tuple[tuple[float, ...], tuple[float, ...]]) -> None:
    print(f"\n{describe(loads[0][0])}")
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in loads[0])} before; "
          f"{', '.join(f'{x:.2f}' for x in loads[1])} after")
    print(f"command: python {' '.join(sys.argv)}")
    print(f"data: {args.data} ({state['dataset']['source']}); model: {state['model']} (preset recipe), "
          f"test-set evaluation off; {args.rounds} round(s) of a {args.seconds:g} s baseline then a "
          f"{args.seconds:g} s loaded window")
    print(f"loaded: {args.viewers} websocket viewers reading everything + {args.uploads:g} uploads/s "
          f"(POST /api/classify, {mix_text(args)}; "
          f"small = {len(args.small_names)} real 32x32 CIFAR-10 test JPEGs in turn, "
          f"every {args.photo_every}th a {args.photo_name} of {args.photo_bytes / 1e3:,.0f} kB); viewers and "
          f"uploads run in this process, on the same machine")
    print("limits raised for the benchmark (all uploads come from 127.0.0.1): "
          + ", ".join(f"{k}={v}" for k, v in RAISED.items())
          + " (defaults 60/min, burst 20, 500 viewers); at most 4 classifications wait at once "
            "(server/inference/live.py MAX_WAITING, not a setting): more are answered '429 busy'\n")

    loaded = [w for w in windows if w.loaded]
    if windows:
        throughput_table(args, windows)
    watched = [w for w in loaded if w.seen]
    if watched:
        viewer_tables(watched)
    uploads_table(args, loaded)
    memory_table(memory)
    if stalled is not None:
        stall_tables(args, stalled)


def mix_text(args: argparse.Namespace) -> str:
    if args.mix == "full":
        return "--mix full: the whole answer (top 5, 8 neighbours, Grad-CAM, input gradient, layer maps)"
    return (f"--mix page: as the page asks with its classify panel on screen (top 10, parts={PAGE_PARTS}), "
            f"and for {args.layers_share:.0%} of the uploads then GET /api/classify/{{id}}?parts=frame "
            "(the layer view scrolled to)")


def throughput_table(args: argparse.Namespace, windows: list[Window]) -> None:
    base = [w for w in windows if not w.loaded]
    loaded = [w for w in windows if w.loaded]
    print("| round | window | train img/s | in steps | worker CPU | img per worker CPU s | server CPU | "
          "load generator CPU | loop lag p99 | feature index kept up |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for i, w in enumerate(windows):
        kept = ("yes (uploads now)" if w.loaded and args.uploads > 0 else
                f"yes, {w.since_upload:.0f} s after the last upload" if w.since_upload is not None
                and w.since_upload < INTEREST else "no")
        print(f"| {i // 2 + 1} | {'loaded' if w.loaded else 'baseline'} | {w.images_per_second:,.0f} | "
              f"{w.in_steps:.1%} | {w.cpu[1]:.2f} | {w.images_per_second / max(w.cpu[1], 1e-9):,.0f} | "
              f"{w.cpu[0]:.2f} | {w.cpu[2]:.2f} | {w.lag_p99 * 1e3:.0f} ms | "
              f"{kept} |")
    b, lo = statistics.mean(w.images_per_second for w in base), statistics.mean(w.images_per_second for w in loaded)
    first = base[0].images_per_second
    pairs = ", ".join(f"{lw.images_per_second / bw.images_per_second:.3f}x" for bw, lw in zip(base, loaded))
    print(f"\n**training: {lo:,.0f} img/s loaded vs {b:,.0f} img/s baseline: {lo / b:.3f}x** (goal: at least "
          f"0.95x); against the first baseline alone, before any upload: {lo / first:.3f}x; round by round: "
          f"{pairs}. CPU in cores "
          f"(of {os.cpu_count()}); 'in steps': the share of the worker's wall-clock time in training steps; "
          f"'img per worker CPU s': falls when the worker does extra work, roughly holds when it only gets less CPU. "
          f"After an upload the worker keeps a feature index of the training images up for {INTEREST:.0f} s "
          f"(server/worker/feed.py, <= 5% of its time), so a baseline after a loaded window still pays for it.\n")


def viewer_tables(loaded: list[Window]) -> None:
    print("Viewers: did every one get metrics throughout? (viewers with >= 1 metrics message in each "
          f"{SLICE:g} s slice / fewest messages any viewer got in that slice)\n")
    slices = max(len(w.seen.per_slice) for w in loaded)
    print("| slice | " + " | ".join(f"round {i + 1}" for i in range(len(loaded))) + " |")
    print("| --- |" + " ---: |" * len(loaded))
    for k in range(slices):
        cells = [f"{w.seen.per_slice[k]}/{w.seen.viewers} (min {w.seen.min_per_slice[k]})"
                 if k < len(w.seen.per_slice) else "" for w in loaded]
        print(f"| {k * SLICE:g}-{(k + 1) * SLICE:g} s | " + " | ".join(cells) + " |")
    print("\n| round | metrics/s per viewer: min | median | step -> viewer p50 | p95 | p99 | resynced | "
          "dropped | KB/s per viewer |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for i, w in enumerate(loaded):
        s = w.seen
        print(f"| {i + 1} | {min(s.rates):.1f} | {statistics.median(s.rates):.1f} | "
              f"{percentile(s.latencies, 50) * 1e3:.0f} ms | {percentile(s.latencies, 95) * 1e3:.0f} ms | "
              f"{percentile(s.latencies, 99) * 1e3:.0f} ms | {s.resynced} | {len(s.dropped)} | "
              f"{s.kb_per_second:,.0f} |")
    dropped = Counter(d for w in loaded for d in w.seen.dropped)
    if dropped:
        print("\ndropped viewers: " + "; ".join(f"{n} x {why}" for why, n in dropped.most_common()))
    print("\n(step -> viewer: from a training step's end to its metric's arrival, every 10th viewer; "
          "resynced: viewers the server sent a fresh hello because they fell 200 messages behind)\n")


def uploads_table(args: argparse.Namespace, loaded: list[Window]) -> None:
    answers = [a for w in loaded for a in w.answers]
    if answers:
        wall = args.seconds * len(loaded)
        sent = [a for a in answers if a.kind != "layers"]
        print(f"Uploads: {len(sent)} sent in {wall:g} s ({len(sent) / wall:.1f}/s), "
              f"{len(answers) - len(sent)} follow-ups\n")
        print("| upload | sent | 200 | round trip p50 | p95 | server p50 | p95 | answer kB | not 200 |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for kind, name in (("small", "32x32 CIFAR-10 JPEG"), ("photo", args.photo_name),
                           ("layers", "its layer maps (GET ?parts=frame)")):
            mine = [a for a in answers if a.kind == kind]
            if not mine:
                continue
            ok = [a for a in mine if a.status == "200"]
            bad = Counter(a.status for a in mine if a.status != "200")
            print(f"| {name} | {len(mine)} | {len(ok)} | {percentile([a.round_trip for a in ok], 50):.0f} ms | "
                  f"{percentile([a.round_trip for a in ok], 95):.0f} ms | "
                  f"{percentile([a.server for a in ok if a.server], 50):.0f} ms | "
                  f"{percentile([a.server for a in ok if a.server], 95):.0f} ms | "
                  f"{statistics.mean(a.bytes for a in ok) / 1e3 if ok else float('nan'):,.1f} | "
                  f"{', '.join(f'{n} x {s}' for s, n in bad.most_common()) or 'none'} |")
        print("\n(round trip: as this process saw it, its own event loop's lag included; server: the "
              "Server-Timing header, from the request's arrival to the answer)")
        for i, w in enumerate(loaded):
            steps = sorted({a.index for a in w.answers if a.index is not None})
            print(f"feature index behind the neighbours, round {i + 1} (every 10th answer read): "
                  + (f"from step{'s' if len(steps) > 1 else ''} {', '.join(map(str, steps))}" if steps
                     else "none yet (still being built)"))
        print()


def memory_table(memory: Memory) -> None:
    print(f"Memory (RSS, MB, sampled every second; {'psutil' if psutil else '/proc/<pid>/status VmRSS'}):\n")
    print("| phase | samples | server start | server peak | server end | worker start | worker peak | worker end |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    phases = list(dict.fromkeys(s.phase for s in memory.samples))
    for phase in phases:
        ss = memory.of(phase)
        srv, wrk = [s.server for s in ss if s.server], [s.worker for s in ss if s.worker]
        print(f"| {phase} | {len(ss)} | {mb(srv[0] if srv else None)} | {mb(max(srv, default=None))} | "
              f"{mb(srv[-1] if srv else None)} | {mb(wrk[0] if wrk else None)} | {mb(max(wrk, default=None))} | "
              f"{mb(wrk[-1] if wrk else None)} |")
    trace, last = [], None
    for s in memory.samples[::10]:
        mark = "" if s.phase == last else f"[{s.phase}] "
        trace.append(f"{mark}{mb(s.server)}")
        last = s.phase
    print(f"\nserver RSS every 10 s, MB: {' '.join(trace)}\n")


def stall_tables(args: argparse.Namespace, st: Stall) -> None:
    print(f"\nStalled viewers: {args.viewers} readers for {args.control_seconds:g} s, then {args.stalled} more "
          f"clients that finish the websocket handshake with a 4 KiB receive buffer and never read, for "
          f"{args.stall_seconds:g} s (no uploads)\n")
    marks = sorted({t for t in (1, 5, 10, 20, 30, 45, 60, 90, 120) if t <= args.stall_seconds}
                   | {int(args.stall_seconds)})
    print("| seconds since the stalled viewers connected | " + " | ".join(f"{t}" for t in marks) + " | peak |")
    print("| --- |" + " ---: |" * (len(marks) + 1))
    for label, idx in (("server RSS, MB", 1), ("worker RSS, MB", 2)):
        row = []
        for t in marks:
            near = [s for s in st.rss if s[0] <= t]
            row.append(mb(near[-1][idx]) if near else "-")
        peak = max((s[idx] for s in st.rss if s[idx]), default=None)
        print(f"| {label} | " + " | ".join(row) + f" | {mb(peak)} |")
    print(f"\nserver RSS: {mb(st.before[0])} MB with readers only, {mb(st.after[0])} MB 5 s after the stalled "
          f"viewers left; worker {mb(st.before[1])} -> {mb(st.after[1])} MB")
    print(f"backpressure: per stalled connection, the server's kernel send queue held "
          f"{statistics.median(st.send_queues) / 1e3:,.0f} kB (median; {min(st.send_queues) / 1e3:,.0f}-"
          f"{max(st.send_queues) / 1e3:,.0f}) and the client's unread receive queue "
          f"{statistics.median(st.recv_queues) / 1e3:,.0f} kB; {st.still_open} of {args.stalled} still open at "
          f"the end (/proc/net/tcp)\n")
    print("| readers | train img/s | worker CPU | server CPU | metrics/s per viewer: min | median | "
          "viewers with metrics in every slice | step -> viewer p50 | p95 | resynced | dropped |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r, ips, cpu in (("alone", st.control, st.control_ips, st.control_cpu),
                              (f"with {args.stalled} stalled", st.stalled, st.stalled_ips, st.stalled_cpu)):
        rates = r.rates or [float("nan")]
        print(f"| {name} | {ips:,.0f} | {cpu[1]:.2f} | {cpu[0]:.2f} | {min(rates):.1f} | "
              f"{statistics.median(rates):.1f} | "
              f"{min(r.per_slice)}/{r.viewers} | {percentile(r.latencies, 50) * 1e3:.0f} ms | "
              f"{percentile(r.latencies, 95) * 1e3:.0f} ms | {r.resynced} | {len(r.dropped)} |")


def size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_DATA.resolve()) if SHARED_DATA.is_file() else None,
                        help="dataset for the server (default: the shared CIFAR-10 JPEG copy)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each window")
    parser.add_argument("--rounds", type=int, default=2, help="baseline + loaded pairs (0: only the stall)")
    parser.add_argument("--viewers", type=int, default=200, help="websocket viewers in a loaded window")
    parser.add_argument("--uploads", type=float, default=20.0, help="classifications started per second")
    parser.add_argument("--photo-every", type=int, default=5, help="every Nth upload is the photo (0: none)")
    parser.add_argument("--photo-size", type=size, default=(1600, 1200), help="the photo's WxH")
    parser.add_argument("--mix", choices=sorted(MIXES), default="full",
                        help="what an upload asks for: the whole answer (full), or what the page asks (page)")
    parser.add_argument("--layers-share", type=float, default=0.2,
                        help="--mix page: share of uploads whose layer maps are then fetched (the layer view)")
    parser.add_argument("--stalled", type=int, default=20, help="viewers that never read (0: skip that part)")
    parser.add_argument("--control-seconds", type=float, default=15.0, help="readers alone before the stall")
    parser.add_argument("--stall-seconds", type=float, default=40.0, help="how long the stalled viewers stay")
    args = parser.parse_args()
    if args.data is None:
        parser.error("no --data and no shared CIFAR-10 copy beside the repo")
    small, photo = upload_images(args.data, args.photo_size)
    args.small_names, args.photo_name, args.photo_bytes = [u.name for u in small], photo.name, len(photo.data)

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        windows, stalled, memory, state = asyncio.run(run(args, Path(tmp)))
    report(args, windows, stalled, memory, state, (load_before, os.getloadavg()))


if __name__ == "__main__":
    main()
