"""What a hostile client sends, for the property tests of the server's guards (server/access.py,
server/security.py): the routes only the owner may call, credentials that are not the owner's
token, and origins that are not the server's own.

    request = data.draw(not_the_owner(live.token))             # httpx arguments: headers=...
    origin = data.draw(foreign_origins("127.0.0.1:8000"))      # an Origin header
"""

from __future__ import annotations

import base64
import string
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from convscope.access import COOKIE

# Derandomized: a failure shows again on the next run. Tests set max_examples (CI has 2 cores).
# Function-scoped fixtures (`live`) are fine here: every example leaves the server as it found it.
PROPERTY = settings(derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

# routes that change nothing in the run: anyone may call them
OPEN = {("POST", "/api/classify"), ("POST", "/api/slide"), ("POST", "/api/models/summary"), ("POST", "/api/cost")}
MUTATING = {"post", "put", "patch", "delete"}


def owner_routes(app: Any) -> list[tuple[str, str]]:
    """(METHOD, path template) of every route that may change something, from the app's own OpenAPI
    schema, so a new route cannot slip through unguarded."""
    return [(method.upper(), path) for path, methods in app.openapi()["paths"].items()
            for method in methods if method in MUTATING and (method.upper(), path) not in OPEN]


# -- credentials that are not the owner's token ---------------------------------------------------

HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=64)  # printable ASCII
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"  # secrets.token_urlsafe's


def near_misses(token: str) -> st.SearchStrategy[str]:
    """Strings that are not the token but look like it: junk, a prefix, the token with more after it,
    one character changed, the case swapped."""
    def changed(i: int, c: str) -> str:
        i %= len(token)
        return token[:i] + c + token[i + 1:]

    return st.one_of(
        HEADER_TEXT,
        st.integers(0, len(token) - 1).map(lambda n: token[:n]),
        st.text(st.sampled_from(TOKEN_ALPHABET), min_size=1, max_size=8).map(lambda tail: token + tail),
        st.builds(changed, st.integers(0, len(token) - 1), st.sampled_from(TOKEN_ALPHABET)),
        st.just(token.swapcase()),
    ).filter(lambda value: value.strip().strip('"') != token)  # servers trim and unquote these


def misplaced(token: str) -> list[dict[str, Any]]:
    """httpx request arguments carrying the right token where it does not count: another scheme,
    another cookie, another header, the query string (which only the page's address reads)."""
    basic = base64.b64encode(f"owner:{token}".encode()).decode()
    headers = [{"Authorization": token}, {"Authorization": f"Basic {basic}"},
               {"Authorization": f"Token {token}"}, {"Authorization": f"Bearer:{token}"},
               {"Authorization": f"Bearer{token}"}, {"Cookie": f"{COOKIE.upper()}={token}"},
               {"Cookie": f"token={token}"}, {"Cookie": f"x{COOKIE}={token}"},
               {"X-Token": token}, {"X-Auth-Token": token}, {"Token": token}]
    return [{"headers": h} for h in headers] + [{"params": {"token": token}}]


def not_the_owner(token: str) -> st.SearchStrategy[dict[str, Any]]:
    """httpx request arguments (headers) that carry no valid credential: nothing, or a wrong token
    as bearer, as cookie, or both."""
    wrong = near_misses(token)
    headers = st.one_of(
        st.just({}),
        st.builds(lambda scheme, value: {"Authorization": f"{scheme} {value}"},
                  st.sampled_from(["Bearer", "bearer", "BEARER"]), wrong),
        wrong.map(lambda value: {"Cookie": f"{COOKIE}={value}"}),
        st.builds(lambda bearer, cookie: {"Authorization": f"Bearer {bearer}", "Cookie": f"{COOKIE}={cookie}"},
                  wrong, wrong),
    )
    # h11 sends no header value with spaces around it (and servers would trim them)
    return headers.map(lambda h: {"headers": {name: value.strip() for name, value in h.items()}})


# -- origins that are not the server's own --------------------------------------------------------

def foreign_origins(own: str) -> st.SearchStrategy[str]:
    """Origin headers of pages that are not this server's (reached at `own`, "127.0.0.1:8000"):
    other hosts (with this port too), this host on other ports, schemes other than http(s), "null",
    and look-alikes such as http://127.0.0.1.evil.com:8000 and http://127.0.0.1:8000@evil.com.

    http(s) with this exact host and port is the server's own page (https: behind a proxy that
    ends TLS) and is never drawn."""
    host, _, port = own.rpartition(":")
    names = st.from_regex(r"[a-z][a-z0-9-]{0,15}(\.[a-z]{2,8}){1,2}", fullmatch=True)
    addresses = st.ip_addresses(v=4).map(str).filter(lambda address: address != host)
    other_host = st.one_of(names, addresses, st.sampled_from(["localhost", "[::1]", "0.0.0.0", "2130706433"]))
    scheme = st.sampled_from(["http", "https"])
    any_port = st.integers(1, 65535).map(str)
    return st.one_of(
        st.builds(lambda s, h, p: f"{s}://{h}:{p}", scheme, other_host, any_port | st.just(port)),
        st.builds(lambda s, h: f"{s}://{h}", scheme, other_host),
        st.builds(lambda s, p: f"{s}://{host}:{p}", scheme, any_port.filter(lambda p: p != port)),
        st.builds(lambda s: f"{s}://{host}", scheme),
        st.builds(lambda s: f"{s}://{own}", st.sampled_from(["ws", "wss", "ftp", "file", "chrome-extension",
                                                              "moz-extension", "data", "javascript"])),
        st.sampled_from(["null", "", "*", "file://", f"//{own}", own, f"http://{own}0",
                         f"http://{host}:{port}.evil.example", f"http://{own}@evil.example"]),
        st.builds(lambda s, h: f"{s}://{host}.{h}:{port}", scheme, names),
        st.builds(lambda s, h: f"{s}://{h}.{host}:{port}", scheme, names),
    )

