"""/api/health: is the server up, and is its worker alive."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import WorkerDep
from ..protocol import Health

router = APIRouter(prefix="/api/health", tags=["health"])


@router.get("", response_model=Health)
def health(worker: WorkerDep) -> Health:
    return Health(worker="alive" if worker.alive else "restarting")
