"""Who may change the run: the owner, who holds the token made at start (in the spirit of Jupyter).

Viewing and classifying are open to anyone who can reach the server; every command that changes
the run needs the token, sent as the `convscope_token` cookie (set by visiting `/?token=...`, the
URL `convscope serve` prints) or as `Authorization: Bearer TOKEN` (scripts).

    @router.post("/pause", dependencies=[OwnerDep])
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Depends
from starlette.requests import HTTPConnection

from .routes.errors import ApiError
from .security import same_origin

COOKIE = "convscope_token"


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 192 random bits


def token_matches(given: str | None, token: str | None) -> bool:
    """Constant-time comparison; no token configured matches nothing."""
    if not given or not token:
        return False
    return hmac.compare_digest(given.encode(), token.encode())


def presented_token(conn: HTTPConnection) -> str | None:
    """The token this request carries: its bearer header first, else its cookie."""
    scheme, _, credentials = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return conn.cookies.get(COOKIE)


def is_owner(conn: HTTPConnection) -> bool:
    return token_matches(presented_token(conn), conn.app.state.settings.token)


def require_owner(conn: HTTPConnection) -> None:
    """401 without a token, 403 with a wrong one, or from a page of another origin.

    The origin check backs up SameSite=Strict: "same site" ignores the port, so a page served by
    another program on this machine (http://127.0.0.1:9000) would otherwise send the cookie."""
    if not same_origin(conn.headers.get("origin"), conn.headers.get("host")):
        raise ApiError(403, "refused: this command comes from a page of another site")
    given = presented_token(conn)
    if not given:
        raise ApiError(401, "only the owner can change the run: open the owner's address convscope printed "
                            "(with ?token=...), or send the header Authorization: Bearer TOKEN",
                       headers={"WWW-Authenticate": "Bearer"})
    if not token_matches(given, conn.app.state.settings.token):
        raise ApiError(403, "the token is wrong: only the owner can change the run (the token is in the "
                            "owner's address convscope printed)")


OwnerDep = Depends(require_owner)
