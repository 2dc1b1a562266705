"""Client addresses behind a proxy: uvicorn, configured as `convscope serve` configures it
(cli.proxy_options), believes X-Forwarded-For from the forwarded_allow_ips alone, so the rate
limits count the real client behind a trusted proxy and the direct peer otherwise. The requests
come from 127.0.0.1; the app runs without its lifespan (no trainer is needed to be refused)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from convscope.app import create_app
from convscope.cli import proxy_options
from convscope.settings import Settings
from support import TIMEOUT


@contextmanager
def serving(tmp_path, **settings: object) -> Iterator[httpx.Client]:
    """The app under uvicorn on a free port: one command per client address a minute."""
    settings = Settings(commands_per_minute=1, commands_burst=1, runs_dir=tmp_path, **settings)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off", **proxy_options(settings)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)


def command(client: httpx.Client, forwarded_for: str) -> int:
    """A stranger's command: 401 while its address has a command left, else 429."""
    return client.post("/api/run/pause", headers={"X-Forwarded-For": forwarded_for}).status_code


def test_without_the_setting_x_forwarded_for_is_ignored(tmp_path):
    assert proxy_options(Settings()) == {"proxy_headers": False}  # uvicorn's default believes 127.0.0.1
    with serving(tmp_path) as client:
        assert command(client, "203.0.113.1") == 401
        assert command(client, "203.0.113.2") == 429  # both are 127.0.0.1, whatever they say


def test_from_a_trusted_proxy_the_client_it_names_is_counted(tmp_path):
    with serving(tmp_path, forwarded_allow_ips="127.0.0.1") as client:
        assert command(client, "203.0.113.1") == 401
        assert command(client, "203.0.113.2") == 401  # another client behind the same proxy
        assert command(client, "203.0.113.1") == 429
        # a client's own X-Forwarded-For comes first; the proxy appends the address it saw, which counts
        assert command(client, "198.51.100.9, 203.0.113.2") == 429


def test_a_proxy_not_named_is_not_believed(tmp_path):
    with serving(tmp_path, forwarded_allow_ips="10.0.0.5, 192.168.0.0/16") as client:
        assert command(client, "203.0.113.1") == 401
        assert command(client, "203.0.113.2") == 429
