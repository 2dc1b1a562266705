"""What every response carries, and which pages may open the websocket.

- Security headers on every HTTP response: a content security policy the page passes (it has no
  inline scripts or styles: everything comes from /static), no MIME sniffing, no framing (but for a
  watched run's page, which notebooks on this machine may frame), no referrer to other sites. The interactive API docs (/docs, /redoc) load Swagger's scripts from a
  CDN, so they get the other headers but not the policy.
- The websocket refuses a browser page of another origin (cross-site websocket hijacking: a page
  on any site could otherwise open ws://127.0.0.1:8000/ws from a visitor's browser). Browsers
  always send Origin on a websocket; clients without one (scripts) are not browsers and may connect.
- No CORS: no Access-Control-Allow-Origin is ever sent, so other sites' pages cannot read replies.
- Bound to this machine only (127.0.0.1, the default), the server answers only requests addressed
  to a loopback name (Host: localhost, 127.0.0.1, [::1]). A site whose name resolves to 127.0.0.1
  (DNS rebinding) would otherwise be "same origin" with the page and could read everything open.
"""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
       "object-src 'none'")
HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"referrer-policy", b"same-origin")]
NO_POLICY = ("/docs", "/redoc")  # Swagger UI and ReDoc: inline scripts and a CDN
# who may show the page of a watched run in a frame: notebooks on this machine (Jupyter, VS Code)
NOTEBOOKS = "'self' http://localhost:* http://127.0.0.1:* https://localhost:* https://127.0.0.1:* vscode-webview:"

log = logging.getLogger("convscope.security")


def is_loopback(host: str) -> bool:
    """127.0.0.1 (any 127.x), ::1, localhost: reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: assume it is reachable from elsewhere
        return False


def host_name(host: str) -> str:
    """The name in a Host header, without its port: "[::1]:8000" -> "::1"."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class LoopbackHostsOnly:
    """Pure ASGI middleware: refuses (400, or a refused websocket) a Host that is not a loopback name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not is_loopback(host_name(host)):
                log.warning("convscope: refused a request for host %r (this server answers to localhost only)", host)
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                body = (b'{"detail": "this server answers to localhost only: open it as '
                        b'http://127.0.0.1 or http://localhost (or start it with --host)"}')
                await send({"type": "http.response.start", "status": 400,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Pure ASGI middleware (no buffering: streamed files stay streamed). `framed_by`: the
    frame-ancestors sources that may show the page in a frame; none: no page may."""

    def __init__(self, app: ASGIApp, framed_by: str | None = None) -> None:
        self.app = app
        self.headers = list(HEADERS) if framed_by is None else [h for h in HEADERS if h[0] != b"x-frame-options"]
        self.policy = (CSP if framed_by is None else CSP.replace("frame-ancestors 'none'",
                                                                  f"frame-ancestors {framed_by}")).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(self.headers)
        if not scope["path"].startswith(NO_POLICY):
            extra.append((b"content-security-policy", self.policy))

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
