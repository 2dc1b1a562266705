"""/api/session: whether this client is the run's owner (server/access.py), so the page can show
controls to the owner and tell viewers who can change things."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..access import is_owner
from ..deps import MirrorDep
from ..watched.session import VIEW_ONLY
from ..protocol import SessionInfo

router = APIRouter(prefix="/api/session", tags=["session"])

OWNER = "you own this run: you can pause, change and reset it"
VIEWER = "view only: the owner controls this run"


@router.get("", response_model=SessionInfo)
def session(request: Request, mirror: MirrorDep) -> SessionInfo:
    if not mirror.run.control:  # a watched loop whose script allows no control: nobody owns it here
        return SessionInfo(owner=False, message=VIEW_ONLY)
    owner = is_owner(request)
    return SessionInfo(owner=owner, message=OWNER if owner else VIEWER)
