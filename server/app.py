"""The FastAPI app factory: routes, the page, and a lifespan that starts and stops the worker.

    app = create_app(Settings(data="~/cifar", model="lenet"))
    uvicorn.run(app)                     # or: convscope serve
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .access import new_token
from .assets import package_folder
from .hub import Hub
from .inference.live import LiveClassifier
from .limits import rate_limits
from .mirror import HISTORY_POINTS, RunMirror
from .models import PRESETS, load_spec
from .protocol import ModelChanged, PresetInfo, RunState
from .routes import (checkpoint, classify, cost, errors, evaluation, health, images, layers, learn, models, pages,
                     run, runs, session, slide, ws)
from .runs import Recorder, RunRecord, RunStore, checkpoint_path, import_runs
from .security import LoopbackHostsOnly, SecurityHeaders, is_loopback
from .settings import DEFAULT_MODEL, Settings
from .summary import preset_summary
from .train import TrainConfig
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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    if settings.token is None:  # secure by default: a random owner token for this start
        settings = settings.model_copy(update={"token": new_token()})
    options = worker_options(settings)  # fails here, before serving, on an unknown model

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runs_dir = Path(options.runs_dir)
        store = RunStore(runs_dir / "runs.db")  # a damaged one is set aside and reported (store.problem)
        if store.fresh:
            import_runs(store, runs_dir)
        last = None if settings.new_run else last_run(store, runs_dir)
        presets = [PresetInfo(name=n, title=p.title, params=preset_summary(n).params,
                              macs=preset_summary(n).macs) for n, p in PRESETS.items()]
        if last:  # its charts show while the data loads
            run = RunState(status="loading", model=last.name, config=last.config, run_id=last.id,
                           step=last.step, epoch=last.epoch)
        else:
            run = RunState(status="loading", model=options.name, config=TrainConfig().replace(**options.recipe).to_dict())
        mirror = RunMirror(run, presets)
        if last:
            mirror.restore(*store.history(last.id, HISTORY_POINTS))
        hub = Hub(mirror)
        recorder = Recorder(store, runs_dir)

        def on_event(message: Any) -> None:
            recorder.record(message)
            hub.publish(message)
            if isinstance(message, ModelChanged):
                worker.resume = message.run_id  # a crashed worker comes back with this run
                if message.resumed_step is not None:
                    mirror.restore(*store.history(message.run_id, HISTORY_POINTS))
                    hub.resync()

        worker = Worker(dataclasses.replace(options, resume=last.id if last else None), on_event=on_event,
                        on_crash=hub.worker_lost)
        hub.on_viewers = worker.set_viewers
        app.state.mirror, app.state.hub, app.state.worker = mirror, hub, worker
        app.state.store, app.state.recorder = store, recorder
        app.state.classifier = LiveClassifier(mirror)
        await worker.start()
        try:
            yield
        finally:
            await worker.stop()
            store.close()

    app = FastAPI(title="convscope", version=version("convscope"), lifespan=lifespan,
                  description="Watch a CNN learn CIFAR-10, live. The websocket /ws is described "
                              "in docs/protocol.md.")
    app.state.settings = settings
    app.state.limits = rate_limits(settings)  # counted in Redis when a broker is given (server/limits.py)
    errors.install(app)
    app.add_middleware(SecurityHeaders)  # and no CORS middleware: other sites may not read replies
    if is_loopback(settings.host):
        app.add_middleware(LoopbackHostsOnly)  # no DNS rebinding
    for module in (health, session, run, runs, models, layers, images, checkpoint, ws, pages, cost, learn, classify,
                   slide, evaluation):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=package_folder("static")), name="static")
    return app
