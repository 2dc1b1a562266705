"""/api/run: the live run's state, and the commands that steer it (answered by the worker)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..access import OwnerDep
from ..limits import limit
from ..deps import MirrorDep, SettingsDep, WorkerDep
from ..mirror import RunMirror
from ..models import PRESETS, SpecError, validate
from ..protocol import CommandReply, Hyperparams, ModelChoice, ModelSummary, Problem, ProbeChoice, RunInfo
from ..settings import Settings
from ..summary import summarize
from ..train import TrainConfig
from ..worker import Reply, Worker, WorkerUnavailable
from ..messages import CommandKind
from .errors import ApiError

router = APIRouter(prefix="/api/run", tags=["run"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": Problem} for code in (401, 403, 409, 422, 429, 503)}
# every command that changes the run is rate-limited per client (server/limits.py) and the owner's
# alone (server/access.py)
OWNER = [limit("commands"), OwnerDep]


async def send_command(worker: Worker, mirror: RunMirror, settings: Settings, kind: CommandKind,
                       **args: Any) -> Reply:
    """The worker's answer to a command; 409 while it loads data, 503 when it cannot answer."""
    if mirror.run.status == "loading":
        raise ApiError(409, "the worker is still loading the data; try again when it is ready")
    try:
        return await worker.command(kind, timeout=settings.command_timeout, **args)
    except WorkerUnavailable as e:
        raise ApiError(503, str(e)) from None


def reply(answer: Reply) -> CommandReply:
    return CommandReply(ok=answer.ok, message=answer.message, run=answer.run)


@router.get("", response_model=RunInfo)
def get_run(mirror: MirrorDep) -> RunInfo:
    return RunInfo(**mirror.run.model_dump(), layers=mirror.layers)


@router.post("/pause", response_model=CommandReply, responses=ERRORS, dependencies=OWNER)
async def pause(worker: WorkerDep, mirror: MirrorDep, settings: SettingsDep) -> CommandReply:
    return reply(await send_command(worker, mirror, settings, "pause"))


@router.post("/resume", response_model=CommandReply, responses=ERRORS, dependencies=OWNER)
async def resume(worker: WorkerDep, mirror: MirrorDep, settings: SettingsDep) -> CommandReply:
    return reply(await send_command(worker, mirror, settings, "resume"))


@router.post("/step", response_model=CommandReply, responses=ERRORS, dependencies=OWNER)
async def step(worker: WorkerDep, mirror: MirrorDep, settings: SettingsDep) -> CommandReply:
    """One training step (the run must be paused)."""
    return reply(await send_command(worker, mirror, settings, "step"))


@router.post("/reset", response_model=CommandReply, responses=ERRORS, dependencies=OWNER)
async def reset(worker: WorkerDep, mirror: MirrorDep, settings: SettingsDep) -> CommandReply:
    """Start the run over: fresh weights, same model and hyperparameters."""
    return reply(await send_command(worker, mirror, settings, "reset"))


@router.patch("/hyperparams", response_model=CommandReply, responses=ERRORS, dependencies=OWNER)
async def hyperparams(body: Hyperparams, worker: WorkerDep, mirror: MirrorDep,
                      settings: SettingsDep) -> CommandReply:
    """Change hyperparameters between two steps; 422 names the bad value."""
    changes = body.changes()
    if not changes:
        raise ApiError(422, f"nothing to change: give one or more of {', '.join(Hyperparams.model_fields)}")
    if mirror.run.source == "trainer":  # a watched loop checks the changes its optimizer can take itself
        try:
            TrainConfig(**mirror.run.config).replace(**changes)
        except ValueError as e:
            raise ApiError(422, str(e)) from None
    return reply(await send_command(worker, mirror, settings, "hyperparams", **changes))


@router.get("/model", response_model=ModelSummary, responses={409: {"model": Problem}})
def current_model(mirror: MirrorDep) -> ModelSummary:
    """The live network: its name, normalised spec, layer table and pattern (for the network editor)."""
    if not mirror.spec:
        raise ApiError(409, "no network is built yet: the worker is still starting")
    return summarize(mirror.run.model, mirror.spec, len(mirror.classes) or 10)


@router.post("/model", response_model=CommandReply, responses={**ERRORS, 404: {"model": Problem}}, dependencies=OWNER)
async def switch_model(body: ModelChoice, worker: WorkerDep, mirror: MirrorDep,
                       settings: SettingsDep) -> CommandReply:
    """Train another network from scratch: a preset by name, or a spec (named by `name`)."""
    if body.spec is None:
        if body.name is None:
            raise ApiError(422, "give name (a preset: GET /api/models) or spec (a list of layers)")
        if body.name not in PRESETS:
            raise ApiError(404, f"unknown model {body.name!r}; known models: {', '.join(PRESETS)}")
        return reply(await send_command(worker, mirror, settings, "model", name=body.name))
    try:
        validate(body.spec, num_classes=len(mirror.classes) or 10)
    except SpecError as e:
        raise ApiError(422, str(e), e.path) from None
    return reply(await send_command(worker, mirror, settings, "model", name=body.name, spec=body.spec))


@router.post("/probe", response_model=CommandReply, responses=ERRORS, dependencies=OWNER)
async def choose_probe(body: ProbeChoice, worker: WorkerDep, mirror: MirrorDep,
                       settings: SettingsDep) -> CommandReply:
    """Choose the test image that probes run on."""
    if mirror.test_set is None:
        raise ApiError(409, "the test images are not loaded yet")
    if not 0 <= body.index < len(mirror.test_set.labels):
        raise ApiError(422, f"index must be between 0 and {len(mirror.test_set.labels) - 1}, got {body.index}")
    return reply(await send_command(worker, mirror, settings, "probe", index=body.index))
