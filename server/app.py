"""The FastAPI app factory: routes, the page, and a lifespan that starts and stops the worker.

    app = create_app(Settings(data="~/cifar", model="lenet"))
    uvicorn.run(app)                     # or: convscope serve
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .access import new_token
from .hub import Hub
from .inference.live import LiveClassifier
from .limits import RateLimiter
from .mirror import RunMirror
from .models import PRESETS, load_spec
from .protocol import PresetInfo, RunState
from .routes import (checkpoint, classify, cost, errors, evaluation, health, images, learn, models, pages, run,
                     session, ws)
from .security import SecurityHeaders
from .settings import Settings
from .summary import preset_summary
from .train import TrainConfig
from .worker import Worker, WorkerOptions


def worker_options(settings: Settings) -> WorkerOptions:
    """What the worker trains first: the model's preset recipe, or the defaults for a spec file."""
    name, spec = load_spec(settings.model)
    recipe = PRESETS[name].recipe if name in PRESETS else {}
    if settings.epochs is not None:
        recipe = {**recipe, "epochs": settings.epochs}
    checkpoint = str(settings.checkpoint_dir.expanduser() / "last.pt") if settings.checkpoint_dir else None
    return WorkerOptions(name=name, spec=spec, recipe=recipe, data=settings.data, device=settings.device,
                         probe_hz=settings.probe_hz, predictions_every=settings.predictions_every,
                         checkpoint=checkpoint, checkpoint_every=settings.checkpoint_every)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    if settings.token is None:  # secure by default: a random owner token for this start
        settings = settings.model_copy(update={"token": new_token()})
    options = worker_options(settings)  # fails here, before serving, on an unknown model

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config = TrainConfig().replace(**options.recipe)
        presets = [PresetInfo(name=n, title=p.title, params=preset_summary(n).params,
                              macs=preset_summary(n).macs) for n, p in PRESETS.items()]
        mirror = RunMirror(RunState(status="loading", model=options.name, config=config.to_dict()), presets)
        hub = Hub(mirror)
        worker = Worker(options, on_event=hub.publish, on_crash=hub.worker_lost)
        hub.on_viewers = worker.set_viewers
        app.state.mirror, app.state.hub, app.state.worker = mirror, hub, worker
        app.state.classifier = LiveClassifier(mirror)
        await worker.start()
        try:
            yield
        finally:
            await worker.stop()

    app = FastAPI(title="convscope", version=version("convscope"), lifespan=lifespan,
                  description="Watch a CNN learn CIFAR-10, live. The websocket /ws is described "
                              "in docs/protocol.md.")
    app.state.settings = settings
    app.state.limits = {"classify": RateLimiter(settings.classify_per_minute, settings.classify_burst),
                        "commands": RateLimiter(settings.commands_per_minute, settings.commands_burst)}
    errors.install(app)
    app.add_middleware(SecurityHeaders)  # and no CORS middleware: other sites may not read replies
    for module in (health, session, run, models, images, checkpoint, ws, pages, cost, learn, classify, evaluation):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=settings.static_dir, check_dir=False), name="static")
    return app
