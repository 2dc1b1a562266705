"""The FastAPI app factory: routes, the page, and a lifespan that starts and stops the worker.

    app = create_app(Settings(data="~/cifar", model="lenet"))
    uvicorn.run(app)                     # or: convscope serve
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .access import new_token
from .bus.remote import RemoteTrainer, shared_token
from .assets import package_folder
from .hub import Hub
from .inference.live import LiveClassifier
from .limits import rate_limits
from .mirror import HISTORY_POINTS, RunMirror
from .models import PRESETS, load_spec
from .protocol import Eval, Metrics, ModelChanged, PresetInfo, RunState
from .routes import (checkpoint, classify, cost, errors, evaluation, health, images, layers, learn, models, pages,
                     run, runs, session, slide, ws)
from .runs import Recorder, RunRecord, RunStore, checkpoint_path, import_runs, open_store
from .security import NOTEBOOKS, LoopbackHostsOnly, SecurityHeaders, is_loopback
from .settings import DEFAULT_MODEL, Settings
from .summary import preset_summary
from .train import TrainConfig
from .watched.classifier import WatchedClassifier
from .watched.local import LocalEnd, LocalPage
from .worker import Worker, WorkerOptions


def worker_options(settings: Settings) -> WorkerOptions:
    """What the worker trains first: the model's preset recipe, or the defaults for a spec file."""
    name, spec = load_spec(settings.model or DEFAULT_MODEL)
    recipe = PRESETS[name].recipe if name in PRESETS else {}
    if settings.epochs is not None:
        recipe = {**recipe, "epochs": settings.epochs}
    return WorkerOptions(name=name, spec=spec, recipe=recipe, data=settings.data, device=settings.device,
                         probe_hz=settings.probe_hz, predictions_every=settings.predictions_every,
                         runs_dir=str(settings.runs_dir.expanduser()), checkpoint_every=settings.checkpoint_every)


def last_run(store: RunStore, runs_dir: Path) -> RunRecord | None:
    """The most recently active run that has a checkpoint to go on from."""
    return next((r for r in store.runs() if r.checkpoint_step is not None
                 and checkpoint_path(runs_dir, r.id).exists()), None)


def presets_info() -> list[PresetInfo]:
    return [PresetInfo(name=n, title=p.title, params=preset_summary(n).params, macs=preset_summary(n).macs)
            for n, p in PRESETS.items()]


def follow_resumes(hub: Hub, store: RunStore) -> Callable[[Any], None]:
    """hub.publish, and a run resumed from its checkpoint shows its history from the store."""
    def on_event(message: Any) -> None:
        hub.publish(message)
        if isinstance(message, ModelChanged) and message.resumed_step is not None:
            hub.mirror.restore(*store.history(message.run_id, HISTORY_POINTS), upto=message.resumed_step)
            hub.resync()
    return on_event


def wire(app: FastAPI, hub: Hub, source: Any, store: RunStore, recorder: Recorder | None, classifier: Any) -> None:
    """What the routes find on app.state, whichever the source of the run."""
    hub.on_viewers = source.set_viewers
    app.state.mirror, app.state.hub, app.state.worker = hub.mirror, hub, source
    app.state.store, app.state.recorder, app.state.classifier = store, recorder, classifier


@asynccontextmanager
async def embedded(app: FastAPI, settings: Settings, options: WorkerOptions, store: RunStore) -> AsyncIterator[None]:
    """`convscope serve`: the trainer is this server's own child process; the run store is written here."""
    runs_dir = Path(options.runs_dir)
    if store.fresh:
        import_runs(store, runs_dir)
    last = None if settings.new_run else last_run(store, runs_dir)
    if last:  # its charts show while the data loads
        run = RunState(status="loading", model=last.name, config=last.config, run_id=last.id,
                       step=last.step, epoch=last.epoch)
    else:
        run = RunState(status="loading", model=options.name, config=TrainConfig().replace(**options.recipe).to_dict())
    mirror = RunMirror(run, presets_info())
    if last:
        mirror.restore(*store.history(last.id, HISTORY_POINTS))
    hub = Hub(mirror)
    recorder = Recorder(store, runs_dir)
    publish = follow_resumes(hub, store)

    def on_event(message: Any) -> None:
        recorder.record(message)
        publish(message)
        if isinstance(message, ModelChanged):
            worker.resume = message.run_id  # a crashed worker comes back with this run

    worker = Worker(dataclasses.replace(options, resume=last.id if last else None), on_event=on_event,
                    on_crash=hub.worker_lost)
    wire(app, hub, worker, store, recorder, LiveClassifier(mirror))
    await worker.start()
    try:
        yield
    finally:
        await worker.stop()
        await asyncio.to_thread(recorder.close)  # its queued writes, before the store closes


@asynccontextmanager
async def split_web(app: FastAPI, settings: Settings, store: RunStore) -> AsyncIterator[None]:
    """`convscope web`: the trainer is elsewhere, behind the broker; its recorder writes the store."""
    app.state.settings = settings.model_copy(update={"token": await shared_token(settings.broker, settings.token)})
    mirror = RunMirror(RunState(status="loading", model=settings.model or DEFAULT_MODEL, config={}), presets_info())
    hub = Hub(mirror)

    publish, last_step = follow_resumes(hub, store), [0]  # the newest training step shown

    def on_event(message: Any) -> None:
        """A metrics entry read twice (the snapshot's end, or a send retried across a broker
        restart) is shown once."""
        if isinstance(message, ModelChanged):
            last_step[0] = message.resumed_step or 0
        elif isinstance(message, Metrics):
            message = Metrics(points=[p for p in message.points if p.step > last_step[0]])
            if not message.points:
                return
            last_step[0] = message.points[-1].step
        publish(message)

    def on_snapshot(model: ModelChanged | None, messages: list[Any]) -> None:
        """Charts from the store, then what the stream has that the store may not have yet."""
        last_test = -1
        if model is not None:
            hub.publish(model)
            train, test = store.history(model.run_id, HISTORY_POINTS)
            mirror.restore(train, test)
            last_step[0] = train[-1]["step"] if train else 0
            last_test = test[-1]["step"] if test else -1
        for message in messages:
            if not (isinstance(message, Eval) and message.step <= last_test):
                on_event(message)
        hub.resync()

    trainer = RemoteTrainer(settings.broker, on_event=on_event, on_crash=hub.worker_lost,
                            on_snapshot=on_snapshot, token=app.state.settings.token)
    hub.elsewhere = lambda: trainer.elsewhere
    wire(app, hub, trainer, store, None, LiveClassifier(mirror))
    await trainer.start()
    try:
        yield
    finally:
        await trainer.stop()


@asynccontextmanager
async def watched(app: FastAPI, settings: Settings, store: RunStore, page: LocalPage) -> AsyncIterator[None]:
    """convscope.watch: the run is the user's own loop, in this process (server/watched/)."""
    mirror = RunMirror(RunState(status="loading", model="a watched model", config={}, source="watch"), presets_info())
    hub = Hub(mirror)
    recorder = Recorder(store, settings.runs_dir.expanduser())

    def on_event(message: Any) -> None:
        recorder.record(message)
        hub.publish(message)

    source = LocalEnd(page, on_event)
    wire(app, hub, source, store, recorder, WatchedClassifier(page))
    await source.start()
    try:
        yield
    finally:
        await source.stop()
        recorder.close()  # not in a thread: this may run in the interpreter's exit, its executors shut down


def create_app(settings: Settings | None = None, role: Literal["serve", "web", "watch"] = "serve",
               page: LocalPage | None = None) -> FastAPI:
    """The embedded server (`serve`: it trains too), a web server of a split deployment (`web`:
    a trainer elsewhere, reached through settings.broker), or the page of loops watched in this
    process (`watch`, with their LocalPage: server/watched/)."""
    settings = settings or Settings()
    if role == "web" and not settings.broker:
        raise ValueError("a web server needs a broker (--broker redis://HOST:6379/0)")
    if role == "watch" and page is None:
        raise ValueError("the page of watched runs needs its LocalPage")
    if settings.token is None and role != "web":  # secure by default: a random owner token for this start
        settings = settings.model_copy(update={"token": new_token()})
    options = worker_options(settings) if role == "serve" else None  # fails here, before serving, on an unknown model

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # a damaged SQLite file is set aside (store.problem); an unreachable PostgreSQL is waited for
        store = await asyncio.to_thread(open_store, settings.store or settings.runs_dir.expanduser() / "runs.db")
        try:
            parts = (split_web(app, settings, store) if role == "web" else watched(app, settings, store, page)
                     if role == "watch" else embedded(app, settings, options, store))
            async with parts:
                yield
        finally:
            store.close()
            await app.state.limits["classify"].counts.close()  # both kinds share one storage

    app = FastAPI(title="convscope", version=version("convscope"), lifespan=lifespan,
                  description="Watch a CNN learn CIFAR-10, live. The websocket /ws is described "
                              "in docs/protocol.md.")
    app.state.settings = settings
    app.state.limits = rate_limits(settings)  # counted in Redis when a broker is given (server/limits.py)
    errors.install(app)
    # no CORS middleware: other sites may not read replies; a watched run's page may show in a notebook
    app.add_middleware(SecurityHeaders, framed_by=NOTEBOOKS if role == "watch" else None)
    if is_loopback(settings.host):
        app.add_middleware(LoopbackHostsOnly)  # no DNS rebinding
    for module in (health, session, run, runs, models, layers, images, checkpoint, ws, pages, cost, learn, classify,
                   slide, evaluation):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=package_folder("static")), name="static")
    return app
