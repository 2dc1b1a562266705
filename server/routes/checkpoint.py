"""/api/checkpoint: download the live run as a checkpoint file (server/train/checkpoint.py)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from ..deps import MirrorDep, SettingsDep, WorkerDep
from ..limits import limit
from ..protocol import Problem
from .errors import ApiError
from .run import send_command

router = APIRouter(prefix="/api/checkpoint", tags=["checkpoint"])


@router.get("", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}},
                       **{code: {"model": Problem} for code in (409, 429, 503)}},
            dependencies=[limit("commands")])  # the worker writes a file each time: not for free
async def download(worker: WorkerDep, mirror: MirrorDep, settings: SettingsDep) -> FileResponse:
    """The worker saves its whole state to a temporary file; it is streamed, then deleted."""
    folder = Path(tempfile.mkdtemp(prefix="convscope-checkpoint-"))
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
