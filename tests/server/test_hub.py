"""The hub's fan-out, without sockets: per-client mailboxes, newest frame only, bounded memory."""

from __future__ import annotations

import asyncio
import json

from convscope import hub as hub_module
from convscope.hub import MAX_MESSAGES, Hub
from convscope.mirror import Downsampled, RunMirror
from convscope.protocol import MetricPoint, Metrics, ModelChanged, RunState, State


def point(step: int) -> MetricPoint:
    return MetricPoint(step=step, epoch=step / 10, loss=1.0, accuracy=0.5, lr=0.1, batch_size=32,
                       images_per_second=1000.0, seconds=step / 100, time=0.0)


def hub() -> Hub:
    return Hub(RunMirror(RunState(status="training", model="m", config={}), presets=[]))


class Recorder:
    """A websocket stand-in: records what is sent; `blocked` makes every send hang forever."""

    def __init__(self, blocked: bool = False) -> None:
        self.sent: list[str | bytes] = []
        self.blocked = blocked

    async def send(self, item: str | bytes) -> None:
        if self.blocked:
            await asyncio.Event().wait()
        self.sent.append(item)

    def types(self) -> list[str]:
        return [json.loads(x)["type"] if isinstance(x, str) else "frame" for x in self.sent]


async def pump(tasks_done: float = 0.05) -> None:
    await asyncio.sleep(tasks_done)


def test_hello_first_then_messages_in_order_and_only_the_newest_frame():
    async def main() -> None:
        h, fast, stuck = hub(), Recorder(), Recorder(blocked=True)
        h.publish(Metrics(points=[point(1)]))
        clients = [h.connect(fast.send), h.connect(stuck.send)]
        tasks = [asyncio.create_task(c.run()) for c in clients]
        await pump()
        for step in range(2, 1000):  # far more than a stuck client may keep
            h.publish(Metrics(points=[point(step)]))
            h.publish(f"frame {step}".encode())
            if step % 10 == 0:
                await pump(0)
        await pump()
        assert fast.types()[0] == "hello"
        hello = json.loads(fast.sent[0])
        assert [p["step"] for p in hello["history"]["train"]] == [1]
        steps = [p["step"] for x in fast.sent[1:] if isinstance(x, str) for p in json.loads(x)["points"]]
        assert steps == list(range(2, 1000))  # every metric, in order, none twice
        assert fast.sent[-1] == b"frame 999"
        stuck_client = clients[1]
        assert len(stuck_client.messages) <= MAX_MESSAGES and stuck_client.frame == b"frame 999"
        for task in tasks:
            task.cancel()
    asyncio.run(main())


def test_a_client_too_far_behind_is_resynced_with_a_fresh_hello():
    async def main() -> None:
        h, slow = hub(), Recorder()
        client = h.connect(slow.send)  # not running yet: its mailbox fills
        for step in range(1, MAX_MESSAGES + 50):
            h.publish(Metrics(points=[point(step)]))
        h.publish(State(run=h.mirror.run))
        h.publish(State(run=h.mirror.run.model_copy(update={"status": "paused"})))
        assert client.resync and len(client.messages) < MAX_MESSAGES
        assert sum(kind == "state" for kind, _ in client.messages) == 1  # only the latest state
        task = asyncio.create_task(client.run())
        await pump()
        task.cancel()
        hello = json.loads(slow.sent[0])
        assert hello["type"] == "hello" and hello["run"]["status"] == "paused"
        assert hello["history"]["train"][-1]["step"] == MAX_MESSAGES + 49  # nothing lost
        assert slow.types() == ["hello"]  # the backlog it replaces is gone
    asyncio.run(main())


def test_viewers_are_counted_and_a_model_change_restarts_the_history():
    counts = []
    h = Hub(RunMirror(RunState(status="training", model="m", config={}), presets=[]), counts.append)
    client = h.connect(Recorder().send)
    h.publish(Metrics(points=[point(1), point(2)]))
    assert h.mirror.run.step == 2 and len(h.mirror.train.points) == 2
    h.publish(ModelChanged(name="x", spec=[], layers=[], run_id="20261124-000000-0000"))
    assert h.mirror.train.points == []
    h.disconnect(client)
    assert counts == [1, 0]


def test_history_is_downsampled_over_the_whole_run():
    history = Downsampled(limit=100)
    for step in range(1, 10_001):
        history.add(point(step))
    steps = [p.step for p in history.points]
    assert 50 <= len(steps) <= 100 and steps[0] == 1 and steps[-1] > 9000
    assert len({b - a for a, b in zip(steps, steps[1:])}) == 1  # evenly spaced


def test_a_client_whose_send_stalls_is_noticed(monkeypatch):
    monkeypatch.setattr(hub_module, "STALL_SECONDS", 0.2)

    async def scenario() -> None:
        h = hub()
        clients = [h.connect(r.send) for r in (Recorder(blocked=True), Recorder())]
        runs = [asyncio.create_task(c.run()) for c in clients]
        watches = [asyncio.create_task(c.stalled()) for c in clients]
        h.publish(Metrics(points=[point(1)]))
        await asyncio.sleep(0.1)
        assert not any(w.done() for w in watches)  # not yet: a slow send is not a stall
        await asyncio.sleep(0.4)
        assert watches[0].done() and not watches[1].done()
        for task in (*runs, *watches):
            task.cancel()

    asyncio.run(scenario())
