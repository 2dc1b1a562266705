"""/api/runs: the runs kept in the run store: list them, their curves, resume one, delete one.

Reading is open to everyone; resuming and deleting are the owner's. The handlers are async on
purpose: every use of the store's SQLite connection stays on the event loop's thread.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from ..deps import MirrorDep, RecorderDep, SettingsDep, StoreDep, WorkerDep
from ..protocol import CommandReply, EvalPoint, MetricPoint, Problem, RunHistory, RunList, RunSummary
from ..runs import RunRecord, RunStore, forget_run
from ..runs.files import RUN_ID
from .errors import ApiError
from .run import OWNER, reply, send_command

router = APIRouter(prefix="/api/runs", tags=["runs"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": Problem} for code in (401, 403, 404, 409, 429, 503)}
RunId = Annotated[str, Path(pattern=f"^{RUN_ID.pattern}$", description="e.g. 20261124-101500-3fa2")]


def summary(record: RunRecord, live_id: str | None) -> RunSummary:
    return RunSummary(id=record.id, name=record.name, created=record.created, updated=record.updated,
                      status=record.status, step=record.step, epoch=record.epoch,
                      test_accuracy=record.test_accuracy, checkpoint_step=record.checkpoint_step,
                      config=record.config, live=record.id == live_id)


def find(store: RunStore, run_id: str) -> RunRecord:
    record = store.get(run_id)
    if record is None:
        raise ApiError(404, f"no run {run_id}")
    return record


@router.get("", response_model=RunList)
async def list_runs(store: StoreDep, recorder: RecorderDep, mirror: MirrorDep, worker: WorkerDep) -> RunList:
    """Every run, newest first; `problem` says what is wrong with the run database, if anything
    (a split deployment's trainer records the run and tells it in its heartbeat)."""
    return RunList(runs=[summary(r, mirror.run.run_id) for r in store.runs()],
                   problem=store.problem or (recorder.problem if recorder else worker.store_problem))


@router.get("/{run_id}/history", response_model=RunHistory, responses={404: {"model": Problem}})
async def run_history(run_id: RunId, store: StoreDep, mirror: MirrorDep,
                      points: Annotated[int, Query(ge=10, le=5000, description="training points, at most")] = 500,
                      ) -> RunHistory:
    """A run's training curve (thinned evenly) and every evaluation: for overlaying runs."""
    record = find(store, run_id)
    train, test = store.history(run_id, points)
    return RunHistory(run=summary(record, mirror.run.run_id), train=[MetricPoint(**p) for p in train],
                      test=[EvalPoint(**p) for p in test])


@router.post("/{run_id}/resume", response_model=CommandReply, responses=ERRORS, dependencies=OWNER)
async def resume_run(run_id: RunId, store: StoreDep, worker: WorkerDep, mirror: MirrorDep,
                     settings: SettingsDep) -> CommandReply:
    """Go on with a kept run from its last checkpoint (the live run is checkpointed first)."""
    record = find(store, run_id)
    if record.checkpoint_step is None:
        raise ApiError(409, f"run {run_id} has no checkpoint to go on from")
    answer = await send_command(worker, mirror, settings, "open", run_id=run_id)
    if not answer.ok:
        raise ApiError(409, answer.message)
    return reply(answer)


@router.delete("/{run_id}", status_code=204, responses=ERRORS, dependencies=OWNER)
async def delete_run(run_id: RunId, store: StoreDep, mirror: MirrorDep, settings: SettingsDep) -> Response:
    """Forget a run: its history and its checkpoint folder. The live run cannot be deleted."""
    find(store, run_id)
    if run_id == mirror.run.run_id:
        raise ApiError(409, "this is the live run: switch to another model or run before deleting it")
    forget_run(store, settings.runs_dir.expanduser(), run_id)
    return Response(status_code=204)
