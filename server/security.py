"""What every response carries, and which pages may open the websocket.

- Security headers on every HTTP response: a content security policy the page passes (it has no
  inline scripts or styles: everything comes from /static), no MIME sniffing, no framing, no
  referrer to other sites. The interactive API docs (/docs, /redoc) load Swagger's scripts from a
  CDN, so they get the other headers but not the policy.
- The websocket refuses a browser page of another origin (cross-site websocket hijacking: a page
  on any site could otherwise open ws://127.0.0.1:8000/ws from a visitor's browser). Browsers
  always send Origin on a websocket; clients without one (scripts) are not browsers and may connect.
- No CORS: no Access-Control-Allow-Origin is ever sent, so other sites' pages cannot read replies.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
       "object-src 'none'")
HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"referrer-policy", b"same-origin")]
NO_POLICY = ("/docs", "/redoc")  # Swagger UI and ReDoc: inline scripts and a CDN


class SecurityHeaders:
    """Pure ASGI middleware (no buffering: streamed files stay streamed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(HEADERS)
        if not scope["path"].startswith(NO_POLICY):
            extra.append((b"content-security-policy", CSP.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def same_origin(origin: str | None, host: str | None) -> bool:
    """Is a websocket's Origin this server's own address (the Host it was reached at)? No Origin
    (not a browser) counts as allowed; "null" (a sandboxed or file page) does not."""
    if origin is None:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or not host:
        return False
    return parts.netloc.lower() == host.lower()
