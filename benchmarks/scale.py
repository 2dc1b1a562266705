"""Scale: the split deployment (trainer -> Redis -> web servers) beside the embedded mode, on loopback.

One run, on this machine, three deployments in turn, each given the same load:

- split: redis-server, `convscope trainer` pinned to core 0 (`taskset -c 0`), `convscope web`
  pinned to core 1; the load generator (this process) and redis-server on core 1 too;
- embedded, pinned alike: `convscope serve` on core 1 with its training worker moved to core 0;
- embedded, unpinned: `convscope serve` and this process free to use both cores, as
  benchmarks/load.py runs it.

Viewers are websocket clients that read everything, many per process via asyncio (load.py's
Crowd: every 10th notes when each step's metric arrived); uploads are POST /api/classify with a
32x32 PNG on a fixed schedule (an open loop), answered in full unless --mix page. Every server gets
CONVSCOPE_CLASSIFY_PER_MINUTE/BURST and CONVSCOPE_MAX_VIEWERS raised (load.py's RAISED): all
uploads come from 127.0.0.1, so the per-address limits would answer most of them 429. Test-set
evaluation is switched off once the run trains. It prints:

1. step -> viewer latency p50/p95: MetricPoint.time (the trainer's wall clock when the step ended)
   against the viewer's receive time (one machine, one clock), both modes, same load; goal p95 < 250 ms.
2. a web server's CPU (/proc/<pid>/stat utime+stime over each window) with 0, 100, 200 and 1,000
   viewers and with --uploads uploads/s; per 100 viewers and per upload; and from it a projection
   (labelled so) of the web servers needed for 10,000 viewers.
3. training img/s of the pinned trainer unwatched against --viewers viewers + --uploads uploads/s
   served from core 1, in alternating windows (goal: at least 0.95x); the embedded mode's ratio
   under the same load beside it, pinned alike and unpinned.
4. the web server's RSS at 0, 200 and 1,000 viewers, and per viewer.
5. recovery from each fault: SIGKILL a web server (its viewers reconnect to a second one at once;
   until each has its hello), SIGKILL the trainer (until the pages say down; a trainer started
   again, until it trains), Redis killed and started again empty (until metrics flow). PostgreSQL
   away is not measured here (the run store is SQLite in this benchmark):
   tests/bus/test_split.py::test_a_database_away_for_30_s_loses_no_history covers it.

Data: a tiny folder of random 32x32 PNGs written to a temporary folder (as the tests do), or
--data (e.g. ../shared/datasets/cifar10-jpeg.zip). --profile FOLDER adds one classroom window per
pinned mode under py-spy (kept out of the figures) and prints where the trainer's and the server's
time went.

Reading the numbers on a shared machine: every window reports the CPU each process got, core 0's
busy time left over by the trainer (other programs; /proc/stat) and the other programs that used
most CPU. Other programs are not pinned: when the serving side fills core 1, the scheduler moves
them to core 0, where they take the trainer's time, so the unwatched/classroom ratio of img/s
then measures them as much as convscope. Two readings stand apart from that: "in steps" (the
share of the trainer's wall-clock time in training steps) and "img per training CPU s" (what the
trainer would train with its core to itself). (Niceness would not help: with the kernel's
autogroups, nice only orders the processes of one session.)

    python benchmarks/scale.py [--data ../shared/datasets/cifar10-jpeg.zip] [--model convnetjs]
                               [--seconds 20] [--rounds 2] [--viewers 200] [--uploads 20]
                               [--profile /tmp/scale-profile]
    python benchmarks/scale.py --quick     # smoke run: short windows, few viewers (numbers mean little)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import os
import shutil
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
import numpy as np
import redis.asyncio
from PIL import Image
from websockets.asyncio.client import connect

from convscope.bus.broker import EVENTS
from convscope.bus.codec import decode
from convscope.protocol import Metrics

from load import (MIXES, RAISED, Answer, Crowd, LoopLag, Reception, ask, cpu_seconds, free_port, percentile,
                  reception, rss, worker_pid)
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "scale-benchmark-owner-token"  # the owner's, on every server: the benchmark switches evaluation off
TRAINER_CORE, SERVING_CORE = {0}, {1}
SETTLE = 3.0  # seconds after every viewer has its hello before measuring
LATENCY_GOAL = 0.250  # seconds, p95 step -> viewer
RATIO_GOAL = 0.95  # loaded / unwatched training img/s
CORE_BUDGET = 0.7  # projection: a web server process (one event loop, one core) kept below this share
PAGE_RETRY = "0.4-0.6 s"  # static/js/socket.js backoff(1): the page's first reconnect waits this long
STARTUP = 600.0  # seconds a server may take to train (the first decoding of a real dataset is slow)


def virtual() -> str:
    """Whether this is a virtual machine (its cores may be threads of shared physical cores)."""
    flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    return ("a virtual machine (hypervisor flag): its cores may share physical cores on the host"
            if " hypervisor" in flags else "not a virtual machine")


def say(text: str) -> None:
    """Progress, on stderr with the time (the tables go to stdout)."""
    print(f"  [{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# -- processes -------------------------------------------------------------------------------------
def pin(pid: int, cores: set[int]) -> None:
    """Every thread of a process onto these cores (threads started later inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cores)
        except OSError:  # a thread that just ended
            pass


def core_times() -> dict[int, tuple[float, float]]:
    """Per core, from /proc/stat: (busy, steal) CPU seconds so far; busy is user+nice+system+irq+softirq."""
    out, tick = {}, os.sysconf("SC_CLK_TCK")
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            v = [int(x) for x in values]
            out[int(name[3:])] = ((v[0] + v[1] + v[2] + v[5] + v[6]) / tick, v[7] / tick)
    return out


def processes_cpu() -> dict[int, tuple[str, int, float]]:
    """Every process now: pid -> (command name, parent pid, user+system CPU seconds so far)."""
    out, tick = {}, os.sysconf("SC_CLK_TCK")
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                text = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
            out[int(entry.name)] = (name, int(rest[1]), (int(rest[11]) + int(rest[12])) / tick)
    return out


def others(before: dict[int, tuple[str, int, float]], after: dict[int, tuple[str, int, float]], wall: float,
           top: int = 3) -> list[tuple[str, float]]:
    """The programs not of this benchmark that used most CPU between two snapshots: (name, cores)."""
    mine = {os.getpid()}
    changed = True
    while changed:  # this process's descendants: the servers, their workers, redis, py-spy, taskset
        grown = mine | {pid for pid, (_, ppid, _) in after.items() if ppid in mine}
        changed, mine = grown != mine, grown
    used: dict[str, float] = {}
    for pid, (name, _, cpu) in after.items():
        if pid not in mine:
            used[name] = used.get(name, 0.0) + (cpu - before.get(pid, (name, 0, 0.0))[2]) / wall
    return sorted(((n, c) for n, c in used.items() if c >= 0.01), key=lambda x: -x[1])[:top]


def affinity(pid: int) -> str:
    """The cores a process's threads may run on, e.g. "0" or "0-1" ("0 / 1" if its threads differ)."""
    lists = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
                if line.startswith("Cpus_allowed_list:"):
                    lists.add(line.split(":")[1].strip())
        except OSError:
            pass
    return " / ".join(sorted(lists))


def wait_for_port(port: int, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    """Until something listens on the port; fails at once if `process` (the one to listen) exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.name} exited ({process.returncode}) before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on port {port} after {timeout:g} s")


class Processes:
    """Subprocesses of the benchmark, each with its log in the temporary folder; stopped at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.started = folder, []

    def start(self, name: str, argv: list[str], env: dict[str, str], cores: set[int] | None) -> subprocess.Popen:
        if cores is not None:  # taskset execs the program: the pid is the program's
            argv = ["taskset", "-c", ",".join(map(str, sorted(cores))), *argv]
        with (self.folder / f"{len(self.started):02d}-{name}.log").open("wb") as log:
            process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        process.name = name
        self.started.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.folder.glob("*.log")))

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.started:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


class RedisServer:
    """redis-server on a free port, no persistence (started again, it is empty, as a lost broker)."""

    def __init__(self, processes: Processes, folder: Path) -> None:
        self.processes, self.folder, self.port = processes, folder, free_port()
        self.process: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = self.processes.start(
            "redis", [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                      "--save", "", "--appendonly", "no", "--dir", str(self.folder)], dict(os.environ), SERVING_CORE)
        wait_for_port(self.port, 10)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


# -- data and uploads ----------------------------------------------------------------------------------
def image_folder(root: Path, train: int = 1000, test: int = 100) -> Path:
    """Random 32x32 PNGs in ten class folders (what tests/conftest.py's image_folder writes)."""
    rng = np.random.default_rng(0)
    for split, n in (("train", train), ("test", test)):
        for i in range(n):
            folder = root / split / f"class{i % 10}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root


def small_png() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()


async def uploader(http: httpx.AsyncClient, rate: float, png: bytes, mix: str, answers: list[Answer],
                   inflight: set[asyncio.Task]) -> None:
    """`rate` uploads a second on a fixed schedule, whether or not earlier ones have answered."""
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        task = asyncio.create_task(ask(http, "small", answers, False, "POST", "/api/classify", params=MIXES[mix],
                                       files={"file": ("upload.png", png, "image/png")}))
        inflight.add(task)
        task.add_done_callback(inflight.discard)
        due += 1.0 / rate
        await asyncio.sleep(max(0.0, due - loop.time()))


class StreamTap:
    """A reader of the broker's event stream beside the web servers: when each step's metric reached
    Redis (the entry id is Redis's clock at XADD, this machine's clock), against the step's end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.delays: list[tuple[float, float]] = []  # (monotonic time read, seconds from step end to XADD)

    async def run(self) -> None:
        client = redis.asyncio.Redis.from_url(self.url)
        last = "$"
        try:
            while True:
                got = await client.xread({EVENTS: last}, block=1000, count=500)
                now = time.monotonic()
                for _, entries in got:
                    for entry_id, fields in entries:
                        last = entry_id
                        if b"m" in fields and isinstance(message := decode(fields[b"m"]), Metrics):
                            added = int(entry_id.split(b"-")[0]) / 1000
                            self.delays += [(now, added - p.time) for p in message.points]
        finally:
            await client.aclose()

    def between(self, start: float, end: float) -> list[float]:
        return [d for t, d in self.delays if start <= t < end]


# -- a deployment under measurement ------------------------------------------------------------------
@dataclass
class Target:
    """One deployment: where viewers and uploads go, and the processes whose CPU and RSS count."""
    mode: str  # "split", "embedded (pinned)", "embedded (unpinned)"
    port: int
    pids: dict[str, int]  # role -> pid: "web"/"server", "trainer"/"worker", "redis"
    http: httpx.AsyncClient  # the owner's
    uploads: httpx.AsyncClient
    watched: list[subprocess.Popen]  # must stay alive
    repin: dict[int, set[int]] = field(default_factory=dict)  # pid -> cores, done again before each window
    tap: StreamTap | None = None  # split: the broker's stream, read beside the web server

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def serving(self) -> str:
        return "web" if "web" in self.pids else "server"

    @property
    def training(self) -> str:
        return "trainer" if "trainer" in self.pids else "worker"


@dataclass
class Window:
    mode: str
    name: str
    viewers: int
    uploads: float  # asked per second
    seconds: float
    images_per_second: float
    in_steps: float  # share of wall-clock time in training steps
    cpu: dict[str, float]  # role -> cores over the window; "load" is this process
    rss: dict[str, int]  # role -> median RSS over the window, bytes
    seen: Reception | None
    answers: list[Answer]
    lag_p99: float  # this process's event loop, seconds
    load: float  # 1-minute load average at the window's end
    cores: dict[int, tuple[float, float]]  # core -> (busy, steal) in cores over the window, every process's
    pinned: dict[str, str]  # role -> the cores its threads may use
    others: list[tuple[str, float]]  # other programs on the machine that used most CPU: (name, cores)
    profile: dict[str, list[str]] = field(default_factory=dict)  # role -> summary lines (--profile)
    to_broker: list[float] = field(default_factory=list)  # split: step end -> its XADD on Redis, seconds

    @property
    def ok_per_second(self) -> float:
        return sum(a.status == "200" for a in self.answers) / self.seconds


async def run_state(http: httpx.AsyncClient) -> dict:
    return (await http.get("/api/run")).json()


async def wait_training(target: Target, steps: int = 50, timeout: float = STARTUP) -> dict:
    """Until the run trains past `steps` (a web server says "error" until it hears from a trainer)."""
    deadline = time.monotonic() + timeout
    state: dict = {}
    while time.monotonic() < deadline:
        for process in target.watched:
            if process.poll() is not None:
                raise RuntimeError(f"{process.name} exited ({process.returncode})")
        try:
            state = await run_state(target.http)
            if state["status"] == "training" and state["step"] > steps:
                return state
        except (httpx.HTTPError, ValueError):
            pass
        await asyncio.sleep(0.3)
    raise RuntimeError(f"no training after {timeout:g} s: {state.get('status')} {state.get('message')}")


PROFILED = "classroom, profiled"  # --profile: one more classroom window, under py-spy, kept out of the figures
ENTRY = ("(server/cli.py)", "(server/__main__.py)", "(server/trainer.py)")  # the entry chain: left out
PROFILE_RATE = 50  # py-spy samples per second
WAITS = ("Condition.wait ", "Event.wait ", "Condition._acquire_restore ")  # a sample's last frame: not working


def spy(pid: int, out: Path, seconds: float) -> subprocess.Popen:
    """py-spy record of a process for `seconds`, raw (collapsed) stacks per thread, on the serving core."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen(["taskset", "-c", ",".join(map(str, sorted(SERVING_CORE))), binary, "record", "--pid",
                             str(pid), "--duration", str(math.ceil(seconds)), "--rate", str(PROFILE_RATE), "--format",
                             "raw", "--nolineno", "--threads", "--nonblocking", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def profile_summary(path: Path, seconds: float, top: int = 8) -> list[str]:
    """Per thread, the share of the window it was seen active (not idle: running, or waiting for a CPU or
    the GIL), and under it the convscope functions (server/...) that took most of that, each with what it
    calls; the chain every sample of the thread passes through is left out."""
    if not path.is_file():
        return ["(py-spy wrote nothing)"]
    threads: dict[str, int] = {}
    waiting: dict[str, int] = {}
    functions: dict[str, dict[str, int]] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n, frames = int(count), stack.partition(": ")[2].split(";")
        thread = frames[0].split(" (")[0]  # "Thread-3 (run)", "MainThread"
        threads[thread] = threads.get(thread, 0) + n
        if frames[-1].startswith(WAITS):
            waiting[thread] = waiting.get(thread, 0) + n
        mine = functions.setdefault(thread, {})
        for frame in set(frames[1:]):
            if "(server/" in frame and not frame.endswith(ENTRY):
                mine[frame] = mine.get(frame, 0) + n
    share = lambda n: n / (PROFILE_RATE * seconds)  # noqa: E731
    lines = []
    for thread, n in sorted(threads.items(), key=lambda x: -x[1]):
        if share(n) < 0.01:
            continue
        wait = waiting.get(thread, 0)
        lines.append(f"{share(n):6.1%}  thread {thread}" + (f" ({share(wait):.1%} of it in a timed wait: woken, "
                                                             "waiting for the GIL or the core)" if wait else ""))
        shown = [(f, m) for f, m in functions[thread].items() if m < 0.97 * n and share(m) >= 0.005]
        for f, m in sorted(shown, key=lambda x: -x[1])[:top]:
            lines.append(f"{share(m):10.1%}  {f.replace(' (server/', '  (server/')}")
    return lines


async def measure(target: Target, name: str, viewers: int, uploads: float, seconds: float, mix: str,
                  png: bytes, profile: Path | None = None) -> Window:
    crowd = Crowd(target.ws_url, viewers)
    wall_start = time.monotonic()
    await crowd.start()
    await asyncio.sleep(SETTLE if viewers else 1.0)
    for pid, cores in target.repin.items():
        pin(pid, cores)
    lag = LoopLag()
    lag_task = asyncio.create_task(lag.run())
    answers: list[Answer] = []
    inflight: set[asyncio.Task] = set()
    say(f"{target.mode}, {name}: measuring for {seconds:g} s")
    cpu_before = {role: cpu_seconds(pid) for role, pid in target.pids.items()} | {"load": time.process_time()}
    cores_before, procs_before = core_times(), processes_cpu()
    before, start = await run_state(target.http), time.monotonic()
    sender = asyncio.create_task(uploader(target.uploads, uploads, png, mix, answers, inflight)) if uploads else None
    spies = {role: (spy(target.pids[role], profile / f"{target.mode}-{role}.txt".replace(" ", "-"), seconds),
                    profile / f"{target.mode}-{role}.txt".replace(" ", "-"))
             for role in (target.training, target.serving)} if profile else {}
    samples: dict[str, list[int]] = {role: [] for role in target.pids}
    while time.monotonic() < start + seconds:
        for role, pid in target.pids.items():
            if (value := rss(pid)) is not None:
                samples[role].append(value)
        await asyncio.sleep(min(1.0, max(0.0, start + seconds - time.monotonic())))
    if sender:
        sender.cancel()
    after, end = await run_state(target.http), time.monotonic()
    cpu_after = {role: cpu_seconds(pid) for role, pid in target.pids.items()} | {"load": time.process_time()}
    cores_after, procs_after = core_times(), processes_cpu()
    pinned = {role: affinity(pid) for role, pid in target.pids.items()} | {"load": affinity(os.getpid())}
    lag_task.cancel()
    seen = reception(crowd, start, end, wall_start) if viewers else None
    for process, _ in spies.values():
        await asyncio.to_thread(process.wait, seconds + 30)
    if inflight:
        await asyncio.wait(set(inflight), timeout=60)
    await crowd.stop()
    await asyncio.sleep(1.0)  # the server lets the closed connections go
    if after["step"] < before["step"]:
        raise RuntimeError("the run restarted during the measurement")
    wall = end - start
    window = Window(target.mode, name, viewers, uploads, wall,
                    (after["images_seen"] - before["images_seen"]) / wall, (after["seconds"] - before["seconds"]) / wall,
                    {role: (cpu_after[role] - cpu_before[role]) / wall for role in cpu_after},
                    {role: int(statistics.median(v)) for role, v in samples.items() if v}, seen, answers,
                    percentile(lag.lags, 99) if lag.lags else 0.0, os.getloadavg()[0],
                    {c: tuple((b - a) / wall for a, b in zip(cores_before[c], cores_after[c])) for c in cores_after},
                    pinned, others(procs_before, procs_after, wall),
                    {role: profile_summary(path, seconds) for role, (_, path) in spies.items()},
                    target.tap.between(start, end) if target.tap else [])
    say(f"{target.mode}, {name}: {window.images_per_second:,.0f} img/s; "
        + ", ".join(f"{role} {c:.2f}" for role, c in window.cpu.items()) + " cores"
        + (f"; {window.ok_per_second:.1f} uploads/s answered 200" if uploads else ""))
    return window


# -- faults (split deployment) ----------------------------------------------------------------------------
@dataclass
class Seen:
    t: float  # monotonic
    type: str
    status: str | None = None  # state messages: run.status
    message: str | None = None
    newest: float | None = None  # metrics: the newest point's time (unix)


class Watcher:
    """A viewer that notes every text message's type (and a state's status) as it arrives."""

    def __init__(self, url: str) -> None:
        self.url, self.seen, self.hello = url, [], asyncio.Event()

    async def run(self) -> None:
        try:
            async with connect(self.url, max_size=None, ping_interval=None, open_timeout=60) as ws:
                async for item in ws:
                    if isinstance(item, bytes):
                        continue
                    m, now = json.loads(item), time.monotonic()
                    run = m.get("run") or {}
                    points = m.get("points") or []
                    self.seen.append(Seen(now, m["type"], run.get("status"), run.get("message"),
                                          max((p["time"] for p in points), default=None)))
                    if m["type"] == "hello":
                        self.hello.set()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the fault under test may end it
            pass

    def first(self, after: float, test) -> float | None:
        return next((s.t for s in self.seen if s.t >= after and test(s)), None)


class Follower:
    """A viewer of web server A that, once A is gone, connects to B at once and waits for its hello."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.closed_at: float | None = None
        self.hello_at: float | None = None
        self.error: str | None = None

    async def run(self, a: str, b: str) -> None:
        try:
            async with connect(a, max_size=None, ping_interval=None, open_timeout=60) as ws:
                async for item in ws:
                    if isinstance(item, str) and item.startswith('{"type":"hello"'):
                        self.connected.set()
        except Exception:  # noqa: BLE001 - A was killed: the connection breaks
            pass
        self.closed_at = time.monotonic()
        self.connected.set()
        try:
            async with connect(b, max_size=None, ping_interval=None, open_timeout=60) as ws:
                async for item in ws:
                    if isinstance(item, str) and item.startswith('{"type":"hello"'):
                        self.hello_at = time.monotonic()
                        return
        except Exception as e:  # noqa: BLE001 - reported
            self.error = f"{type(e).__name__}: {e}"


@dataclass
class Recovery:
    fault: str
    timed: str
    values: list[float]  # seconds, one per viewer (or one)
    of: int  # how many were expected
    note: str = ""


async def until(test, timeout: float, poll: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return True
        await asyncio.sleep(poll)
    return False


async def faults(args: argparse.Namespace, target: Target, processes: Processes, redis: RedisServer,
                 web_env: dict[str, str], trainer_argv: list[str], trainer_env: dict[str, str]) -> list[Recovery]:
    out: list[Recovery] = []
    # a second web server, caught up, for A's viewers to move to
    port_b = free_port()
    web_b = processes.start("web-b", [sys.executable, "-m", "convscope", "web"],
                            {**web_env, "CONVSCOPE_PORT": str(port_b)}, SERVING_CORE)
    wait_for_port(port_b, STARTUP, web_b)
    b_url = f"ws://127.0.0.1:{port_b}/ws"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port_b}", timeout=30,
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as http_b:
        b = Target("split", port_b, {"web": web_b.pid, "trainer": target.pids["trainer"]}, http_b, http_b,
                   [web_b, *[p for p in target.watched if p.name != "web-a"]])
        await wait_training(b, steps=0, timeout=60)

        # 1. SIGKILL web server A under its viewers
        say(f"faults: SIGKILL web server A under {args.followers} viewers")
        followers = [Follower() for _ in range(args.followers)]
        tasks = [asyncio.create_task(f.run(target.ws_url, b_url)) for f in followers]
        await asyncio.wait_for(asyncio.gather(*(f.connected.wait() for f in followers)), 120)
        await asyncio.sleep(2.0)
        web_a = next(p for p in target.watched if p.name == "web-a")
        killed = time.monotonic()
        web_a.send_signal(signal.SIGKILL)
        await asyncio.wait(tasks, timeout=60)
        hellos = [f.hello_at - killed for f in followers if f.hello_at]
        errors = {f.error for f in followers if f.error}
        out.append(Recovery("SIGKILL a web server", "its viewers notice (connection closed)",
                            [f.closed_at - killed for f in followers if f.closed_at], len(followers)))
        out.append(Recovery("", "... reconnected to another web server at once: hello", hellos, len(followers),
                            f"all {len(followers)} at once; the page waits {PAGE_RETRY} before its first retry"
                            + (f"; errors: {'; '.join(sorted(errors))[:200]}" if errors else "")))
        for task in tasks:
            task.cancel()

        watchers = [Watcher(b_url) for _ in range(args.watchers)]
        watching = [asyncio.create_task(w.run()) for w in watchers]
        await asyncio.wait_for(asyncio.gather(*(w.hello.wait() for w in watchers)), 60)
        await asyncio.sleep(2.0)

        # 2. SIGKILL the trainer; when the pages say so, start it again (a supervisor's job)
        say("faults: SIGKILL the trainer")
        trainer = next(p for p in target.watched if p.name.startswith("trainer"))
        killed = time.monotonic()
        trainer.send_signal(signal.SIGKILL)
        trainer.wait(10)
        down = lambda s: s.type == "state" and s.status == "error"  # noqa: E731
        await until(lambda: all(w.first(killed, down) for w in watchers), 30)
        said = [t - killed for w in watchers if (t := w.first(killed, down))]
        out.append(Recovery("SIGKILL the trainer", "pages say the trainer is down", said, len(watchers),
                            "heartbeat TTL 3 s, checked every 1 s (server/bus/broker.py)"))
        restarted, wall = time.monotonic(), time.time()
        new = processes.start("trainer-2", trainer_argv, trainer_env, TRAINER_CORE)
        b.watched = [p for p in b.watched if p is not trainer] + [new]
        b.pids["trainer"] = new.pid
        training = lambda s: s.type == "state" and s.status == "training"  # noqa: E731
        fresh = lambda s: s.type == "metrics" and s.newest is not None and s.newest > wall  # noqa: E731
        await until(lambda: all(w.first(restarted, fresh) for w in watchers), STARTUP, 0.05)
        w0 = watchers[0]
        status = w0.first(restarted, training)
        message = next((s.message for s in w0.seen if s.t >= restarted and training(s)), None)
        out.append(Recovery("", "a trainer started again: pages say training", [status - restarted] if status else [],
                            1, f"from its start (import, data, checkpoint); {message or 'no message'}"))
        metrics = [t - restarted for w in watchers if (t := w.first(restarted, fresh))]
        out.append(Recovery("", "... its new steps' metrics reach the pages", metrics, len(watchers),
                            f"kill to training again: {(max(metrics) + restarted - killed) if metrics else math.nan:.1f} s"
                            " with the restart begun once the pages said down"))
        await asyncio.sleep(3.0)

        # 3. Redis killed and started again at once, empty
        say(f"faults: Redis killed and started again {args.redis_down:g} s later")
        killed = time.monotonic()
        redis.kill()
        await asyncio.sleep(args.redis_down)
        redis.start()
        up, wall = time.monotonic(), time.time()
        any_metrics = lambda s: s.type == "metrics"  # noqa: E731
        await until(lambda: all(w.first(up, fresh) for w in watchers), 60, 0.05)
        flow = [t - up for w in watchers if (t := w.first(up, any_metrics))]
        live = [t - up for w in watchers if (t := w.first(up, fresh))]
        said_down = sum(any(s.t >= killed and down(s) for s in w.seen) for w in watchers)
        alive = all(p.poll() is None for p in (new, web_b))
        out.append(Recovery("Redis killed, started again empty", "metrics reach the pages again", flow, len(watchers),
                            f"from Redis listening again ({up - killed:.2f} s after the kill); the gap's steps "
                            "arrive first"))
        out.append(Recovery("", "... metrics of steps ended after the restart", live, len(watchers),
                            f"{said_down} of {len(watchers)} pages were told the broker was away; trainer and web "
                            f"server {'both still running' if alive else 'NOT both running'}"))
        for task in watching:
            task.cancel()
        await asyncio.gather(*watching, return_exceptions=True)
    out.append(Recovery("PostgreSQL away", "not measured here", [], 0,
                        "the run store is SQLite in this benchmark; tests/bus/test_split.py::"
                        "test_a_database_away_for_30_s_loses_no_history stops PostgreSQL for 30 s"))
    return out


# -- the three deployments -------------------------------------------------------------------------------
def ladder(args: argparse.Namespace) -> list[tuple[str, int, float]]:
    """The windows of the split deployment: (name, viewers, uploads/s)."""
    half = args.viewers // 2
    windows = [("unwatched", 0, 0.0), (f"{half} viewers", half, 0.0), (f"{args.viewers} viewers", args.viewers, 0.0),
               (f"{args.memory_viewers:,} viewers", args.memory_viewers, 0.0),
               (f"{args.uploads:g} uploads/s", 0, args.uploads), ("classroom", args.viewers, args.uploads)]
    return windows + [("unwatched", 0, 0.0), ("classroom", args.viewers, args.uploads)] * (args.rounds - 1)


def common_env(tmp: Path, cache: bool) -> dict[str, str]:
    """The limits raised; a cache of decoded data of its own for the temporary dataset."""
    return {**os.environ, **RAISED, "PYTHONUNBUFFERED": "1",
            **({"CONVSCOPE_CACHE": str(tmp / "cache")} if cache else {})}


async def split_mode(args: argparse.Namespace, tmp: Path, png: bytes) -> tuple[list[Window], list[Recovery]]:
    folder = tmp / "split"
    folder.mkdir()
    processes = Processes(folder)
    redis = RedisServer(processes, folder / "redis")
    try:
        redis.start()
        env = {**common_env(tmp, args.tiny), "CONVSCOPE_BROKER": redis.url, "CONVSCOPE_DATA": args.data,
               "CONVSCOPE_RUNS_DIR": str(folder / "runs"), "CONVSCOPE_TOKEN": TOKEN, "CONVSCOPE_BROWSER": "no",
               "CONVSCOPE_DEVICE": "cpu", "CONVSCOPE_MODEL": args.model, "CONVSCOPE_EPOCHS": "1000"}
        trainer_argv = [sys.executable, "-m", "convscope", "trainer"]
        trainer = processes.start("trainer", trainer_argv, env, TRAINER_CORE)
        port = free_port()
        web_env = {k: v for k, v in env.items() if k not in ("CONVSCOPE_MODEL", "CONVSCOPE_EPOCHS")}
        web = processes.start("web-a", [sys.executable, "-m", "convscope", "web"],
                              {**web_env, "CONVSCOPE_PORT": str(port)}, SERVING_CORE)
        wait_for_port(port, STARTUP, web)
        async with (httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                      headers={"Authorization": f"Bearer {TOKEN}"}) as http,
                    httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                      limits=httpx.Limits(max_connections=100)) as uploads):
            target = Target("split", port, {"web": web.pid, "trainer": trainer.pid, "redis": redis.process.pid},
                            http, uploads, [trainer, web, redis.process])
            say("split: waiting for the trainer to train")
            await wait_training(target)
            say("split: training")
            (await http.patch("/api/run/hyperparams", json={"eval_every": 1000})).raise_for_status()
            target.tap = StreamTap(redis.url)
            tapping = asyncio.create_task(target.tap.run())
            windows = [await measure(target, name, v, u, args.seconds, args.mix, png) for name, v, u in ladder(args)]
            if args.profile:
                windows.append(await measure(target, PROFILED, args.viewers, args.uploads, args.seconds, args.mix, png,
                                             args.profile))
            tapping.cancel()
            await asyncio.gather(tapping, return_exceptions=True)
            recoveries = await faults(args, target, processes, redis, web_env, trainer_argv, env)
        return windows, recoveries
    except BaseException:
        sys.stderr.write(processes.logs())
        raise
    finally:
        processes.stop()


async def embedded_mode(args: argparse.Namespace, tmp: Path, png: bytes, pinned: bool) -> list[Window]:
    mode = "embedded (pinned)" if pinned else "embedded (unpinned)"
    folder = tmp / mode.replace(" ", "-").strip("()").replace("(", "").replace(")", "")
    folder.mkdir()
    processes = Processes(folder)
    pin(os.getpid(), SERVING_CORE if pinned else TRAINER_CORE | SERVING_CORE)
    port = free_port()
    try:
        server = processes.start("serve", [sys.executable, "-m", "convscope", "serve", "--port", str(port),
                                           "--runs-dir", str(folder / "runs"), "--data", args.data,
                                           "--model", args.model, "--epochs", "1000", "--device", "cpu",
                                           "--no-browser", f"--token={TOKEN}"],
                                 common_env(tmp, args.tiny), SERVING_CORE if pinned else None)
        wait_for_port(port, STARTUP, server)
        async with (httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                      headers={"Authorization": f"Bearer {TOKEN}"}) as http,
                    httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                      limits=httpx.Limits(max_connections=100)) as uploads):
            target = Target(mode, port, {"server": server.pid}, http, uploads, [server])
            say(f"{mode}: waiting for the server to train")
            await wait_training(target)
            say(f"{mode}: training")
            worker = worker_pid(server.pid)
            if worker is None:
                raise RuntimeError("no training worker found under the server")
            target.pids["worker"] = worker
            if pinned:
                target.repin[worker] = TRAINER_CORE
                pin(worker, TRAINER_CORE)
            (await http.patch("/api/run/hyperparams", json={"eval_every": 1000})).raise_for_status()
            plan = ([("unwatched", 0, 0.0), (f"{args.viewers} viewers", args.viewers, 0.0),
                     ("classroom", args.viewers, args.uploads)]
                    + [("unwatched", 0, 0.0), ("classroom", args.viewers, args.uploads)] * (args.rounds - 1)
                    if pinned else [("unwatched", 0, 0.0), ("classroom", args.viewers, args.uploads)])
            windows = [await measure(target, name, v, u, args.seconds, args.mix, png) for name, v, u in plan]
            if args.profile and pinned:
                windows.append(await measure(target, PROFILED, args.viewers, args.uploads, args.seconds, args.mix, png,
                                             args.profile))
            return windows
    except BaseException:
        sys.stderr.write(processes.logs())
        raise
    finally:
        processes.stop()
        pin(os.getpid(), SERVING_CORE)


# -- the report ---------------------------------------------------------------------------------------------
def ms(seconds: float) -> str:
    return "-" if seconds is None or math.isnan(seconds) else f"{seconds * 1e3:,.0f} ms"


def mb(value: float | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.1f}"


def fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares line y = a + b x through (x, y)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    b = sum((x - mx) * (y - my) for x, y in points) / max(sum((x - mx) ** 2 for x in xs), 1e-12)
    return my - b * mx, b


def latency_table(windows: list[Window]) -> None:
    print("### 1. Step -> viewer latency (MetricPoint.time, the step's end on the trainer's clock, to the viewer's "
          "receive time; every 10th viewer timed)\n")
    print("| mode | window | viewers | uploads/s | points timed | p50 | p95 | p99 | p95 < 250 ms? | "
          "of it, step end -> Redis p50 / p95 | load generator loop lag p99 |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    for w in windows:
        if not w.seen:
            continue
        lat = w.seen.latencies
        p95 = percentile(lat, 95)
        print(f"| {w.mode} | {w.name} | {w.viewers:,} | {w.uploads:g} | {len(lat):,} | {ms(percentile(lat, 50))} | "
              f"{ms(p95)} | {ms(percentile(lat, 99))} | {'yes' if p95 < LATENCY_GOAL else '**no**'} | "
              + (f"{ms(percentile(w.to_broker, 50))} / {ms(percentile(w.to_broker, 95))}" if w.to_broker else "-")
              + f" | {ms(w.lag_p99)} |")
    print("\n(the viewers run in this process: its event loop's lag is part of what they measure. Step end -> "
          "Redis: the entry id of the step's metrics on the broker's stream (Redis's clock at XADD) less the step's "
          "end, read by this process beside the web server: the trainer's side of the trip, its metrics flush "
          "every 0.1 s included; the rest is Redis -> web server -> viewer.)\n")


def cpu_tables(args: argparse.Namespace, windows: list[Window]) -> dict:
    split = [w for w in windows if w.mode == "split"]
    print("### 2. A web server's CPU (split deployment; cores = CPU seconds per wall-clock second, "
          "/proc/<pid>/stat utime+stime)\n")
    print("| window | viewers | uploads/s asked | answered 200/s | web CPU | trainer CPU | redis CPU | "
          "load generator CPU | web RSS MB | viewers with metrics in every 5 s slice | metrics/s per viewer, min |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for w in split:
        seen = w.seen
        print(f"| {w.name} | {w.viewers:,} | {w.uploads:g} | {w.ok_per_second:.1f} | {w.cpu['web']:.3f} | "
              f"{w.cpu['trainer']:.2f} | {w.cpu['redis']:.3f} | {w.cpu['load']:.2f} | {mb(w.rss.get('web'))} | "
              + (f"{min(seen.per_slice)}/{seen.viewers} | {min(seen.rates):.1f} |" if seen else "- | - |"))
    watching = [w for w in split if w.uploads == 0 and w.viewers <= args.viewers]
    idle, per_viewer = fit([(w.viewers, w.cpu["web"]) for w in watching])
    base = statistics.mean(w.cpu["web"] for w in watching if w.viewers == 0)
    upl = [w for w in split if w.uploads and not w.viewers]
    per_upload = statistics.mean((w.cpu["web"] - base) / max(w.ok_per_second, 1e-9) for w in upl) if upl else math.nan
    print(f"\n**web server: {idle:.3f} cores with no viewer, {per_viewer * 100:.3f} cores per 100 viewers** "
          f"(least-squares line through the {len(watching)} windows of 0-{args.viewers} viewers without uploads), "
          f"**{per_upload * 1e3:.1f} ms of CPU per upload** answered (--mix {args.mix}: "
          f"{'the whole answer' if args.mix == 'full' else 'what the page asks'}; 32x32 PNG), "
          f"against the unwatched windows' {base:.3f} cores.")
    for w in (w for w in split if w.uploads == 0 and w.viewers > args.viewers):
        slowest, usual = min(w.seen.rates), min(min(v.seen.rates) for v in watching if v.seen)
        print(f"At {w.viewers:,} viewers: {(w.cpu['web'] - base) / w.viewers * 100:.3f} cores per 100 viewers "
              f"(web {w.cpu['web']:.2f} cores, sharing core 1 with a load generator of {w.cpu['load']:.2f}); its "
              f"slowest viewer got {slowest:.1f} metrics messages/s against {usual:.1f} at {args.viewers} or fewer"
              + (" (fewer, larger messages: the server fell behind)" if slowest < 0.8 * usual else "")
              + ". The projection uses the line above.")
    classroom = [w for w in split if w.name == "classroom"]
    if classroom:
        predicted = idle + per_viewer * args.viewers + per_upload * statistics.mean(w.ok_per_second for w in classroom)
        print(f"Check: classroom ({args.viewers} viewers + {args.uploads:g} uploads/s) predicted {predicted:.2f} "
              f"cores, measured {statistics.mean(w.cpu['web'] for w in classroom):.2f}.")
    print("\n**Projection** (not a measurement: it assumes CPU grows linearly with viewers and uploads, as "
          f"fitted above, and that each web server is one process whose event loop is kept below "
          f"{CORE_BUDGET:.0%} of one core) of the web servers for 10,000 viewers:\n")
    print("| uploads per viewer per minute | uploads/s in all | viewers per web server | web servers (processes, "
          "one core each) for 10,000 viewers | RSS per web server |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    rss_fit = memory_fit(split)
    upload_rss = [w.rss["web"] for w in split if w.uploads and "web" in w.rss]
    grown = max(upload_rss) - rss_fit[0] if rss_fit and upload_rss else 0
    for per_minute in (0, 1, 60 * args.uploads / max(args.viewers, 1)):
        cost = per_viewer + per_upload * per_minute / 60
        n = (CORE_BUDGET - idle) / cost if cost > 0 else math.inf
        servers = math.ceil(10_000 / n) if n > 0 else math.inf
        viewers_each = 10_000 / servers if servers != math.inf else math.nan
        rss_each = rss_fit[0] + rss_fit[1] * viewers_each + (grown if per_minute else 0) if rss_fit else None
        label = f"{per_minute:g}" + (" (the classroom's ratio)" if per_minute > 1 else "")
        print(f"| {label} | {10_000 * per_minute / 60:,.0f} | {n:,.0f} | {servers} | {mb(rss_each)} MB |")
    redis_cpu = statistics.mean(w.cpu["redis"] for w in split)
    print(f"\nAll of them need CONVSCOPE_MAX_VIEWERS >= 10,000 (a deployment-wide cap, default 500). Redis took "
          f"{redis_cpu:.3f} cores with one web server reading it; each web server reads every stream entry and "
          "newest-only blob again, so that part grows with the number of web servers, not viewers.\n")
    return {"idle": idle, "per_viewer": per_viewer, "per_upload": per_upload}


def before_uploads(split: list[Window]) -> list[Window]:
    """The windows before the first with uploads (classifying grows the server's memory for good)."""
    first = next((i for i, w in enumerate(split) if w.uploads), len(split))
    return [w for w in split[:first] if "web" in w.rss]


def memory_fit(split: list[Window]) -> tuple[float, float] | None:
    points = [(w.viewers, w.rss["web"]) for w in before_uploads(split)]
    return fit(points) if len({p[0] for p in points}) > 1 else None


def ratio_tables(windows: list[Window]) -> None:
    print("### 3. Training while serving (unwatched: no viewer, no upload; classroom: viewers + uploads at once)\n")
    print("| mode | window | train img/s | in steps | training CPU | img per training CPU s | serving CPU | "
          "redis CPU | load generator CPU | core 0: others / steal | core 1: all / steal | load average | "
          "other programs, most CPU |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    modes = list(dict.fromkeys(w.mode for w in windows))
    for w in windows:
        if w.name not in ("unwatched", "classroom"):
            continue
        train = w.cpu.get("trainer", w.cpu.get("worker", 0.0))
        serve = w.cpu.get("web", w.cpu.get("server", 0.0))
        redis_cpu = f"{w.cpu['redis']:.3f}" if "redis" in w.cpu else "-"
        print(f"| {w.mode} | {w.name} | {w.images_per_second:,.0f} | {w.in_steps:.1%} | {train:.2f} | "
              f"{w.images_per_second / max(train, 1e-9):,.0f} | {serve:.2f} | {redis_cpu} | "
              f"{w.cpu['load']:.2f} | {others_on_core0(w)} | "
              f"{w.cores[1][0]:.2f} / {w.cores[1][1]:.2f} | {w.load:.2f} | "
              + (", ".join(f"{n} {c:.2f}" for n, c in w.others) or "-") + " |")
    print()
    for mode in modes:
        base = [w for w in windows if w.mode == mode and w.name == "unwatched"]
        loaded = [w for w in windows if w.mode == mode and w.name == "classroom"]
        if not base or not loaded:
            continue
        b = statistics.mean(w.images_per_second for w in base)
        lo = statistics.mean(w.images_per_second for w in loaded)
        eff = (statistics.mean(w.images_per_second / max(w.cpu.get("trainer", w.cpu.get("worker", 0)), 1e-9)
                               for w in loaded)
               / statistics.mean(w.images_per_second / max(w.cpu.get("trainer", w.cpu.get("worker", 0)), 1e-9)
                                 for w in base))
        pairs = ", ".join(f"{lw.images_per_second / bw.images_per_second:.3f}x" for bw, lw in zip(base, loaded))
        steps = ", ".join(f"{lw.in_steps / bw.in_steps:.3f}x" for bw, lw in zip(base, loaded))
        verdict = "meets" if lo / b >= RATIO_GOAL else "**misses**"
        print(f"- **{mode}: {lo:,.0f} img/s in the classroom vs {b:,.0f} unwatched: {lo / b:.3f}x** "
              f"({verdict} the {RATIO_GOAL}x goal); window pairs: {pairs}. With the core to itself: "
              f"img per training CPU s {eff:.3f}x; time in steps, pair by pair: {steps}")
    print("\n(training CPU: the trainer, or the embedded server's worker process; below 1.00 on its own core means "
          "other programs took part of that core: 'core 0: others' is core 0's busy time (/proc/stat) less the "
          "trainer's, 'steal' what the hypervisor took. Other programs are not pinned: when the serving side fills "
          "core 1 they move to core 0 and share it with the trainer, so there img/s measures them too. With its "
          "core to itself the pinned trainer would use all of it: 'img per training CPU s' is what it would train "
          "then, and 'in steps' the share of its time that training steps kept. An upload keeps the trainer building a feature index for "
          "300 s (server/worker/feed.py, <= 5% of its time), so an unwatched window after a classroom one pays "
          "for it too.)\n")


def others_on_core0(w: Window) -> str:
    """Core 0's busy time not spent by the pinned trainer (other programs on the machine), and its steal."""
    if "0" not in w.pinned.get("trainer", w.pinned.get("worker", "")).split(" / ") or w.mode.endswith("(unpinned)"):
        return f"(unpinned) {w.cores[0][0]:.2f} / {w.cores[0][1]:.2f}"
    train = w.cpu.get("trainer", w.cpu.get("worker", 0.0))
    return f"{max(0.0, w.cores[0][0] - train):.2f} / {w.cores[0][1]:.2f}"


def memory_table(windows: list[Window]) -> None:
    split = [w for w in windows if w.mode == "split"]
    by_viewers = {w.viewers: w.rss["web"] for w in before_uploads(split)}
    print("### 4. A web server's memory (RSS, median over the window with the viewers connected)\n")
    print("| viewers | web RSS MB | per viewer, from 0 viewers | per viewer, from the row above |")
    print("| ---: | ---: | ---: | ---: |")
    counts = sorted(by_viewers)
    for i, n in enumerate(counts):
        zero = by_viewers.get(0)
        from_zero = f"{(by_viewers[n] - zero) / n / 1e3:,.1f} kB" if n and zero else "-"
        prev = f"{(by_viewers[n] - by_viewers[counts[i - 1]]) / (n - counts[i - 1]) / 1e3:,.1f} kB" if i else "-"
        print(f"| {n:,} | {mb(by_viewers[n])} | {from_zero} | {prev} |")
    fitted = memory_fit(split)
    if fitted:
        print(f"\nleast-squares: {mb(fitted[0])} MB + {fitted[1] / 1e3:,.1f} kB per viewer "
              f"({fitted[1]:,.0f} bytes)")
    grown = [w.rss["web"] for w in split if w.uploads and "web" in w.rss]
    if grown and 0 in by_viewers:
        print(f"once it had classified uploads, the web server kept {mb(max(grown) - by_viewers[0])} MB more "
              f"({mb(max(grown))} MB at most in the upload windows)")
    print()


def recovery_table(recoveries: list[Recovery]) -> None:
    print("### 5. Recovery from faults (split deployment; seconds from the fault, or from the restart where said)\n")
    print("| fault | timed until | n | p50 | p95 | max | notes |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for r in recoveries:
        v = r.values
        cells = (f"{len(v)}/{r.of} | {percentile(v, 50):.2f} s | {percentile(v, 95):.2f} s | {max(v):.2f} s"
                 if v else f"0/{r.of} | - | - | -")
        print(f"| {r.fault} | {r.timed} | {cells} | {r.note} |")
    print()


def report(args: argparse.Namespace, windows: list[Window], recoveries: list[Recovery],
           loads: tuple[tuple[float, ...], tuple[float, ...]], minutes: float) -> None:
    print(f"\n{describe(loads[0][0])}; {virtual()}")
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in loads[0])} before; "
          f"{', '.join(f'{x:.2f}' for x in loads[1])} after; {minutes:.1f} minutes in all")
    print(f"command: python {' '.join(sys.argv)}")
    print(f"data: {args.data_text}; model: {args.model} (preset recipe), test-set evaluation off; "
          f"windows of {args.seconds:g} s, {args.rounds} round(s) of unwatched/classroom per pinned mode")
    print(f"classroom: {args.viewers} websocket viewers reading everything + {args.uploads:g} uploads/s "
          f"(POST /api/classify, a 32x32 PNG, --mix {args.mix}); pinned: trainer (or the embedded worker) "
          f"on core 0; web server (or embedded server), redis-server and this load generator on core 1")
    print("limits raised on every server (all uploads come from 127.0.0.1): "
          + ", ".join(f"{k}={v}" for k, v in RAISED.items()) + " (defaults 60/min, burst 20, 500 viewers)")
    last = {w.mode: w for w in windows}
    print("cores each process's threads may use (read at the end of each mode's last window; load = this "
          "process): " + "; ".join(f"{mode}: " + ", ".join(f"{role} {cores}" for role, cores in w.pinned.items())
                                   for mode, w in last.items()) + "\n")
    measured = [w for w in windows if w.name != PROFILED]
    latency_table(measured)
    cpu_tables(args, measured)
    ratio_tables(measured)
    memory_table(measured)
    recovery_table(recoveries)
    profiled = [w for w in windows if w.profile]
    if profiled:
        print(f"### py-spy: one more classroom window per pinned mode, sampled at {PROFILE_RATE} Hz "
              f"(--nonblocking, py-spy on core 1; raw stacks in {args.profile}): the share of the window each thread "
              "was active (running, or waiting for its core or the GIL), and under it the convscope functions that "
              "took most of it, each with what it calls\n")
        for w in profiled:
            print(f"{w.mode}, {w.name}: {w.images_per_second:,.0f} img/s, " +
                  ", ".join(f"{role} {c:.2f}" for role, c in w.cpu.items()) + " cores\n")
            for role, lines in w.profile.items():
                print(f"{role}:\n```\n" + "\n".join(lines) + "\n```")
            print()


async def run(args: argparse.Namespace, tmp: Path) -> tuple[list[Window], list[Recovery]]:
    png = small_png()
    windows, recoveries = await split_mode(args, tmp, png)
    windows += await embedded_mode(args, tmp, png, pinned=True)
    if not args.no_unpinned:
        windows += await embedded_mode(args, tmp, png, pinned=False)
    return windows, recoveries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="dataset (default: random 32x32 PNGs in a temporary folder)")
    parser.add_argument("--model", default="convnetjs", help="preset to train (default convnetjs)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measured window")
    parser.add_argument("--rounds", type=int, default=2, help="unwatched/classroom pairs per pinned mode")
    parser.add_argument("--viewers", type=int, default=200, help="viewers of the classroom (half: a window too)")
    parser.add_argument("--memory-viewers", type=int, default=1000, help="the largest window of viewers")
    parser.add_argument("--uploads", type=float, default=20.0, help="uploads per second of the classroom")
    parser.add_argument("--mix", choices=sorted(MIXES), default="full",
                        help="what an upload asks for: the whole answer (full) or what the page asks (page)")
    parser.add_argument("--followers", type=int, default=None,
                        help="viewers moved when a web server is killed (default --viewers)")
    parser.add_argument("--watchers", type=int, default=5, help="viewers timing the trainer and Redis faults")
    parser.add_argument("--redis-down", type=float, default=0.0, help="seconds Redis stays away when restarted")
    parser.add_argument("--no-unpinned", action="store_true", help="skip the unpinned embedded mode")
    parser.add_argument("--profile", type=Path, help="also profile one more classroom window per pinned mode "
                        "with py-spy, keeping its raw stacks in this folder")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 s windows, few viewers")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds, args.viewers, args.memory_viewers, args.uploads = 5.0, 1, 20, 60, 5.0
        args.watchers = 2
    args.followers = args.followers or args.viewers
    if os.cpu_count() < 2 or not shutil.which("taskset") or not shutil.which("redis-server"):
        parser.error("needs 2 cores, taskset and redis-server")
    if args.profile:
        args.profile = args.profile.resolve()
        args.profile.mkdir(parents=True, exist_ok=True)
    pin(os.getpid(), SERVING_CORE)  # the load generator shares core 1 with the serving side
    load_before, began = os.getloadavg(), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="convscope-scale-") as tmp:
        args.tiny = args.data is None
        if args.tiny:
            args.data = str(image_folder(Path(tmp) / "images"))
            args.data_text = "1,000 train + 100 test random 32x32 PNGs in a temporary folder"
        else:
            args.data = str(Path(args.data).expanduser().resolve())
            args.data_text = args.data
        windows, recoveries = asyncio.run(run(args, Path(tmp)))
    report(args, windows, recoveries, (load_before, os.getloadavg()), (time.monotonic() - began) / 60)


if __name__ == "__main__":
    main()
