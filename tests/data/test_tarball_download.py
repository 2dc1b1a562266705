"""The official tarball (extracted safely into the cache) and the download (against a local server)."""
import functools
import hashlib
import http.server
import io
import socket
import tarfile
import threading

import pytest

from convscope.data import DataError, load_dataset
from convscope.data import load as load_module
from convscope.data.download import download


def stages(calls):
    return {stage for stage, _, _ in calls}


def test_tarball_extracts_into_cache_once(python_tarball, expected, cache):
    calls = []
    dataset = load_dataset(python_tarball, progress=lambda *a: calls.append(a))
    assert (dataset.train_images == expected[0]).all() and (dataset.test_labels == expected[3]).all()
    assert dataset.source.endswith(f"extracted from {python_tarball}")
    assert "extracting cifar-10-python.tar.gz" in stages(calls)
    assert calls[-1][1] == calls[-1][2]  # the last call says done
    assert list((cache / "extracted").iterdir())[0].name.startswith("cifar-10-python.tar.gz-")
    calls.clear()
    load_dataset(python_tarball, progress=lambda *a: calls.append(a))
    assert "extracting cifar-10-python.tar.gz" not in stages(calls)


def test_folder_holding_the_tarball(python_tarball, expected):
    dataset = load_dataset(python_tarball.parent, progress=lambda *a: None)
    assert (dataset.train_labels == expected[1]).all()


def test_tarball_with_path_traversal_is_refused(tmp_path, cache):
    tarball = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        member = tarfile.TarInfo("cifar-10-batches-py/../../../evil")
        member.size = 4
        tar.addfile(member, io.BytesIO(b"evil"))
    with pytest.raises(DataError, match=f"{tarball} holds .*evil.*outside"):
        load_dataset(tarball, progress=lambda *a: None)
    assert not list(tmp_path.rglob("evil"))
    assert not list((cache / "extracted").iterdir())  # nothing half-extracted is left


def test_truncated_tarball_is_named(python_tarball, cache):
    python_tarball.write_bytes(python_tarball.read_bytes()[:5000])
    with pytest.raises(DataError, match=f"{python_tarball} is truncated or corrupt"):
        load_dataset(python_tarball, progress=lambda *a: None)
    assert not list((cache / "extracted").iterdir())


@pytest.fixture
def served(python_tarball):
    """(base URL, md5) of a local HTTP server serving the tarball's folder."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(python_tarball.parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", hashlib.md5(python_tarball.read_bytes()).hexdigest()
    server.shutdown()
    server.server_close()


def test_download_good_checksum(served, python_tarball, tmp_path):
    base, md5 = served
    calls = []
    dest = download(tmp_path / "dl" / "x.tar.gz", f"{base}/{python_tarball.name}", md5,
                    progress=lambda *a: calls.append(a))
    assert dest.read_bytes() == python_tarball.read_bytes()
    assert calls[-1] == ("downloading x.tar.gz", dest.stat().st_size, dest.stat().st_size)
    assert [p.name for p in dest.parent.iterdir()] == ["x.tar.gz"]


def test_download_bad_checksum_leaves_nothing(served, python_tarball, tmp_path):
    base, _ = served
    url = f"{base}/{python_tarball.name}"
    with pytest.raises(DataError, match=f"could not download CIFAR-10 from {url}: .*md5.*--data PATH"):
        download(tmp_path / "dl" / "x.tar.gz", url, "0" * 32, progress=lambda *a: None)
    assert not list((tmp_path / "dl").iterdir())


@pytest.mark.parametrize("path", ["missing.tar.gz", None])
def test_download_failure_gives_advice(served, tmp_path, path):
    if path is None:  # nothing listens on this port: connection refused
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}/x.tar.gz"
    else:
        url = f"{served[0]}/{path}"
    with pytest.raises(DataError, match=f"could not download CIFAR-10 from {url}: .*"
                                        r"Pass --data PATH with a local copy \("):
        download(tmp_path / "dl" / "x.tar.gz", url, progress=lambda *a: None)
    assert not list((tmp_path / "dl").iterdir())


def test_no_path_downloads_once_into_the_cache(served, python_tarball, expected, cache, monkeypatch):
    base, md5 = served
    monkeypatch.setattr(load_module, "download",
                        functools.partial(download, url=f"{base}/{python_tarball.name}", md5=md5))
    calls = []
    dataset = load_dataset(None, progress=lambda *a: calls.append(a))
    assert (dataset.train_images == expected[0]).all()
    assert dataset.source == f"CIFAR-10 (python batches) at {cache / 'cifar-10' / 'cifar-10-batches-py'}"
    assert {"downloading cifar-10-python.tar.gz", "extracting cifar-10-python.tar.gz"} <= stages(calls)
    assert sorted(p.name for p in cache.iterdir()) == ["cifar-10"]  # the tarball is gone
    python_tarball.unlink()  # a second start needs no server
    calls.clear()
    load_dataset(None, progress=lambda *a: calls.append(a))
    assert stages(calls) == {"reading CIFAR-10 python batches"}
