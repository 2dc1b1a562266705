"""/: the page (templates/index.html); its scripts and styles are served from /static."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..access import COOKIE, token_matches
from ..assets import package_folder
from ..deps import SettingsDep

router = APIRouter(tags=["pages"])


@cache
def templates() -> Jinja2Templates:
    return Jinja2Templates(directory=package_folder("templates"))


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index(request: Request, settings: SettingsDep, token: str | None = None) -> Response:
    """`/?token=...` (the address `convscope serve` prints): the token becomes an HttpOnly cookie
    and the browser goes on to the clean address, so the token stays out of its history and of
    screenshots. A wrong token is ignored: the page opens view-only."""
    if token is not None and token_matches(token, settings.token):
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return response
    return templates().TemplateResponse(request, "index.html")
