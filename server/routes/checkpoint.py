"""/api/checkpoint: download the live run as a checkpoint file (server/train/checkpoint.py), or
upload one to train on: it becomes a run in the run store and goes on where it stopped."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from ..deps import MirrorDep, SettingsDep, StoreDep, WorkerDep
from ..limits import limit
from ..protocol import CommandReply, Problem
from ..runs import add_run_from, checkpoint_path, forget_run, new_run_id, write_run_name
from ..train import CheckpointError, load_checkpoint
from .classify import read_upload
from .errors import ApiError
from .run import OWNER, reply, send_command

router = APIRouter(prefix="/api/checkpoint", tags=["checkpoint"])
MAX_CHECKPOINT_BYTES = 100 * 2**20  # the presets' checkpoints are 0.3-15 MB
UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "a convscope checkpoint, at most 100 MB"}}}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


@router.get("", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}},
                       **{code: {"model": Problem} for code in (409, 429, 503)}},
            dependencies=[limit("commands")])  # the worker writes a file each time: not for free
async def download(worker: WorkerDep, mirror: MirrorDep, settings: SettingsDep) -> FileResponse:
    """The trainer saves its whole state to a temporary file in the runs folder (which a split
    deployment's trainer and web servers share); it is streamed, then deleted."""
    runs_dir = settings.runs_dir.expanduser()
    runs_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".download-", dir=runs_dir))
    cleanup = BackgroundTask(shutil.rmtree, folder, ignore_errors=True)
    try:
        answer = await send_command(worker, mirror, settings, "checkpoint", path=str(folder / "run.pt"))
    except BaseException:
        await cleanup()
        raise
    if not answer.ok:
        await cleanup()
        raise ApiError(409, answer.message)
    name = f"convscope-{answer.run.model}-step{answer.run.step}.pt"
    return FileResponse(folder / "run.pt", filename=name, media_type="application/octet-stream",
                        background=cleanup)


@router.post("", response_model=CommandReply, openapi_extra=UPLOAD_BODY, dependencies=OWNER,
             responses={code: {"model": Problem} for code in (400, 401, 403, 409, 413, 422, 429, 503)})
async def upload(request: Request, worker: WorkerDep, mirror: MirrorDep, settings: SettingsDep, store: StoreDep,
                 name: Annotated[str, Query(min_length=1, max_length=60, pattern=r"^[\w .()+-]+$",
                                            description="the run's name in the runs list")] = "uploaded",
                 ) -> CommandReply:
    """Train on from an uploaded checkpoint (a download, or `convscope train --checkpoint`)."""
    data = await read_upload(request, MAX_CHECKPOINT_BYTES)
    runs_dir, run_id = settings.runs_dir.expanduser(), new_run_id()
    path = checkpoint_path(runs_dir, run_id)
    try:
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        checkpoint = await asyncio.to_thread(load_checkpoint, path)  # checked before anything trusts it
        write_run_name(runs_dir, run_id, name, checkpoint.step)
        add_run_from(store, run_id, name, checkpoint, when=time.time())
        answer = await send_command(worker, mirror, settings, "open", run_id=run_id)
        if not answer.ok:
            raise ApiError(409, answer.message)
    except CheckpointError as e:
        forget_run(store, runs_dir, run_id)
        raise ApiError(422, str(e).replace(str(path), "the upload")) from None
    except BaseException:
        forget_run(store, runs_dir, run_id)
        raise
    return reply(answer)
