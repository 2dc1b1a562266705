"""Rate limits counted in Redis (server/limits.py, with a real redis-server): web servers with one
broker share each client's budget, and a Redis that cannot be reached lets requests pass, logged
once, without the URL's password. Without the trainer: the apps run no lifespan."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import redis
from limits.aio.storage import RedisStorage

from convscope.app import create_app
from convscope.bus.broker import shown_url
from convscope.limits import rate_limits, redis_storage
from convscope.settings import Settings

SECRET = "pa55-w0rd-never-logged"


@pytest.fixture(params=["memory", "redis"])
def broker(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("redis_server").url if request.param == "redis" else None


def test_a_refused_client_passes_again_once_its_window_has_passed(broker):
    limit = rate_limits(Settings(broker=broker, classify_per_minute=60, classify_burst=2))["classify"]  # 2 s

    async def main() -> None:
        assert [await limit.take("203.0.113.7") for _ in range(2)] == [0.0, 0.0]
        wait = await limit.take("203.0.113.7")
        assert 0 < wait <= 2
        await asyncio.sleep(wait + 0.1)  # real time: the library takes no clock
        assert await limit.take("203.0.113.7") == 0.0
        await limit.counts.close()

    asyncio.run(main())


def test_two_servers_limits_with_one_broker_share_each_clients_budget(redis_server):
    settings = Settings(broker=redis_server.url, commands_per_minute=6, commands_burst=3)  # 3 in any 30 s
    one, two = rate_limits(settings), rate_limits(settings)

    async def main() -> None:
        assert [await one["commands"].take("203.0.113.7") for _ in range(3)] == [0.0, 0.0, 0.0]
        assert 0 < await two["commands"].take("203.0.113.7") <= 30
        assert await two["commands"].take("198.51.100.1") == 0.0  # another client
        assert await two["classify"].take("203.0.113.7") == 0.0  # another kind of request
        await one["commands"].counts.close()
        await two["commands"].counts.close()

    asyncio.run(main())


def test_a_burst_spent_on_one_web_server_gets_429_from_the_other(redis_server, tmp_path):
    settings = Settings(broker=redis_server.url, commands_per_minute=6, commands_burst=3, runs_dir=tmp_path)
    one, two = create_app(settings), create_app(settings)

    async def main() -> None:
        async with (httpx.AsyncClient(transport=httpx.ASGITransport(app=one), base_url="http://127.0.0.1") as a,
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=two), base_url="http://127.0.0.1") as b):
            for _ in range(3):  # a stranger's commands: counted, then refused as not the owner's
                assert (await a.post("/api/run/pause")).status_code == 401
            r = await b.post("/api/run/pause")
            seconds = int(r.headers["retry-after"])
            assert r.status_code == 429 and 1 <= seconds <= 30
            assert r.json() == {"detail": f"too many commands from your address: wait {seconds} s and try again"}
        for app in (one, two):
            await app.state.limits["commands"].counts.close()

    asyncio.run(main())


def test_while_redis_is_away_requests_pass_logged_once_without_its_password(redis_server, caplog):
    def protect() -> None:
        with redis.Redis.from_url(redis_server.url) as client:
            client.config_set("requirepass", SECRET)

    protect()
    url = redis_server.url.replace("redis://", f"redis://:{SECRET}@")
    limit = rate_limits(Settings(broker=url, commands_per_minute=6, commands_burst=1))["commands"]
    limit.counts.retry = 0.0  # ask Redis again at every request

    async def main() -> None:
        assert await limit.take("a") == 0.0 and await limit.take("a") > 0  # Redis counts
        redis_server.stop()
        assert [await limit.take("a") for _ in range(5)] == [0.0] * 5  # fail open, not 500
        limit.counts.retry = 60.0
        assert await limit.take("a") == 0.0
        redis_server.start()
        protect()
        assert [await limit.take("a") for _ in range(3)] == [0.0] * 3  # not asked again for 60 s
        limit.counts.down_until = 0.0  # the 60 s have passed
        assert await limit.take("a") == 0.0 and await limit.take("a") > 0  # counted again (from empty)
        await limit.counts.close()

    with caplog.at_level(logging.INFO, logger="convscope.limits"):
        asyncio.run(main())
    lines = [r.getMessage() for r in caplog.records if r.name == "convscope.limits"]
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"convscope: the rate limits cannot reach {redis_server.url} (ConnectionError: ")
    assert lines[1] == f"convscope: the rate limits reach {redis_server.url} again"
    assert SECRET not in caplog.text


def test_broker_urls_map_to_the_librarys_async_redis_and_logs_show_no_secrets():
    (plain, plain_pool), (tls, tls_pool) = (redis_storage("redis://broker:6379/0"),
                                            redis_storage("rediss://user:pw@broker:6380/1"))
    assert isinstance(plain, RedisStorage) and isinstance(tls, RedisStorage)
    assert tls.bridge.storage.connection_pool is tls_pool  # nothing connects until a request
    assert (tls_pool.connection_kwargs["host"], tls_pool.connection_kwargs["port"]) == ("broker", 6380)
    assert tls_pool.connection_kwargs["password"] == "pw" and tls_pool.connection_kwargs["db"] == 1
    assert "SSL" in tls_pool.connection_class.__name__ and "SSL" not in plain_pool.connection_class.__name__
    assert shown_url("rediss://user:pw@broker:6380/1?password=pw") == "rediss://broker:6380/1"
    assert shown_url("redis://:pw@[::1]:6379/0") == "redis://[::1]:6379/0"
    with pytest.raises(ValueError, match="redis:// or rediss://") as refused:
        redis_storage("http://user:pw@broker/")
    assert "pw" not in str(refused.value)
