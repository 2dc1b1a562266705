"""The real thing: Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist), by path and by name.

Debian's .gz files are the official ones with their gzip header rewritten (strip-nondeterminism drops
the file name and sets the time): restoring both gives back the published md5s, which is why
Fashion-MNIST's content md5s, taken from these files, are the official content's.
"""
import functools
import hashlib
import http.server
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from convscope.data import load_dataset
from convscope.data import mnist
from convscope.data.download import download
from convscope.data.mnist import FASHION_MNIST, FILES
from support import unavailable

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
OFFICIAL_MTIME = {"train": 1504176606, "t10k": 1504176627}  # 2017-08-31, in the official gzip headers


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def debian() -> Path:
    if not all((DEBIAN / f"{name}.gz").is_file() for name in FILES):
        unavailable(f"{DEBIAN} lacks Debian's Fashion-MNIST", "apt-get install dataset-fashion-mnist")
    return DEBIAN


@pytest.mark.parametrize("given", ["path", "name"])
def test_debian_fashion_mnist(debian, given):
    assert mnist.SYSTEM_FOLDER / "fashion-mnist" == debian
    dataset = load_dataset(debian if given == "path" else "fashion-mnist", progress=lambda *a: None)
    assert dataset.source == f"Fashion-MNIST (IDX files) at {debian}"
    assert dataset.classes == list(FASHION_MNIST.classes) and dataset.flips
    assert dataset.train_images.shape == (60_000, 28, 28, 1) and dataset.train_images.dtype == np.uint8
    assert dataset.test_images.shape == (10_000, 28, 28, 1)
    assert np.bincount(dataset.train_labels).tolist() == [6000] * 10
    assert np.bincount(dataset.test_labels).tolist() == [1000] * 10
    assert dataset.train_labels[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]  # an ankle boot first
    assert int(dataset.train_images.sum(dtype=np.int64)) == 3_431_114_169
    assert int(dataset.test_images.sum(dtype=np.int64)) == 573_469_082


@pytest.mark.parametrize("name", FILES)
def test_debian_gz_is_the_official_gz_with_another_header(debian, name):
    data = (debian / f"{name}.gz").read_bytes()
    assert data[3] == 0  # no FNAME flag: Debian's copy has no name and another time
    mtime = OFFICIAL_MTIME[name.split("-")[0]]
    restored = b"\x1f\x8b\x08\x08" + struct.pack("<I", mtime) + data[8:10] + name.encode() + b"\0" \
        + data[10:]
    assert hashlib.md5(restored).hexdigest() == FASHION_MNIST.gz_md5[name]


def test_debian_gz_passes_the_download_check(debian, tmp_path):
    """Served from a local server: its md5 is not the official .gz's, its content's md5 is."""
    handler = functools.partial(QuietHandler, directory=str(debian))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    name = "train-labels-idx1-ubyte"
    try:
        dest = download(tmp_path / f"{name}.gz", f"http://127.0.0.1:{server.server_port}/{name}.gz",
                        FASHION_MNIST.gz_md5[name], progress=lambda *a: None, what="Fashion-MNIST",
                        gunzipped=[FASHION_MNIST.content_md5[name]])
    finally:
        server.shutdown()
        server.server_close()
    assert dest.read_bytes() == (debian / f"{name}.gz").read_bytes()
