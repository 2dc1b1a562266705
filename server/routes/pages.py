"""/: the page (templates/index.html); its scripts and styles are served from /static."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from ..deps import SettingsDep

router = APIRouter(tags=["pages"])


@cache
def templates(directory: Path) -> Jinja2Templates:
    return Jinja2Templates(directory=directory)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index(request: Request, settings: SettingsDep) -> HTMLResponse:
    return templates(settings.templates_dir).TemplateResponse(request, "index.html")
