"""Fixtures shared by every test folder."""
from collections import Counter
from pathlib import Path

import pytest

from support import make_tiny_dataset

SHARED_JPEG_ZIP = Path(__file__).resolve().parents[1] / "../shared/datasets/cifar10-jpeg.zip"


@pytest.fixture(scope="session", autouse=True)
def private_data_home(tmp_path_factory):
    """Runs kept by default (~/.local/share/convscope/runs) go to a temporary folder, never home."""
    import os
    from unittest import mock

    with mock.patch.dict(os.environ, {"XDG_DATA_HOME": str(tmp_path_factory.mktemp("data-home"))}):
        yield


@pytest.fixture(scope="session")
def cifar_jpeg_zip() -> Path:
    """All of CIFAR-10 as JPEGs in an image-folder zip, beside the repo on dev machines and CI."""
    if not SHARED_JPEG_ZIP.is_file():
        pytest.skip(f"{SHARED_JPEG_ZIP.resolve()} is absent (the shared CIFAR-10 JPEG copy)")
    return SHARED_JPEG_ZIP.resolve()


@pytest.fixture
def tiny_dataset():
    """256 train and 128 test images of ten colour classes."""
    return make_tiny_dataset()


@pytest.fixture(scope="session")
def cifar_jpeg(cifar_jpeg_zip, tmp_path_factory):
    """The shared CIFAR-10 JPEG copy, decoded once per test session into a private cache."""
    import os
    from unittest import mock

    from convscope.data import load_dataset

    with mock.patch.dict(os.environ, {"CONVSCOPE_CACHE": str(tmp_path_factory.mktemp("cache"))}):
        return load_dataset(cifar_jpeg_zip, progress=lambda *_: None)


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny image-folder dataset on disk (a worker process loads its own data): 512 train and 100
    test random 32x32 PNGs in ten class folders."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for split, n in (("train", 512), ("test", 100)):
        for i in range(n):
            folder = root / split / f"class{i % 10}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root


@pytest.fixture(scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory):
    """Decoded datasets are cached here, not in the user's cache (the worker inherits it)."""
    import os
    from unittest import mock

    cache = tmp_path_factory.mktemp("cache")
    with mock.patch.dict(os.environ, {"CONVSCOPE_CACHE": str(cache)}):
        yield cache


@pytest.fixture
def redis_server(tmp_path):
    """A real redis-server of this test's own (tests/redis_server.py), killed afterwards."""
    from redis_server import RedisServer

    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def postgres_server(tmp_path):
    """A real PostgreSQL of this test's own (tests/postgres_server.py), stopped afterwards."""
    from postgres_server import PostgresServer

    with PostgresServer(tmp_path / "postgres") as server:
        yield server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main thread
    until the session ends, and tests that call asyncio.run (TestClient, the hub) fail after it."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid.replace("\\", "/"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many tests were skipped, and why, grouped by reason."""
    skipped = terminalreporter.stats.get("skipped", [])
    reasons = Counter(report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
                      for report in skipped)
    terminalreporter.section(f"{len(skipped)} skipped", sep="-")
    for reason, count in reasons.most_common():
        terminalreporter.write_line(f"{count:5d}  {reason}")
