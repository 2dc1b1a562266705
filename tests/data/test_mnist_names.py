"""--data fashion-mnist | mnist: Debian's folder, else the cache, else downloaded once (local server)."""
import dataclasses
import functools
import gzip
import hashlib
import http.server
import socket
import threading

import pytest

from convscope.data import DataError, load_dataset
from convscope.data import mnist
from convscope.data.mnist import FASHION_MNIST, FILES, MNIST


def quiet(*_):
    pass


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def stages(calls):
    return [stage for stage, done, total in calls if done == total]


def refused_url() -> str:
    """An address where nothing listens: connection refused, as offline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


@pytest.fixture
def system(tmp_path, monkeypatch):
    """An empty stand-in for /usr/share/datasets."""
    monkeypatch.setattr(mnist, "SYSTEM_FOLDER", tmp_path / "usr-share-datasets")
    return tmp_path / "usr-share-datasets"


@pytest.fixture
def official(write_idx, tmp_path, monkeypatch):
    """Both datasets' addresses refuse; `use(dataset, **changes)` makes the fixture's .gz files
    (in use.folder) that dataset's official ones, by their .gz md5s and their content's."""
    folder = write_idx(tmp_path / "official")
    gz = {name: md5((folder / f"{name}.gz").read_bytes()) for name in FILES}
    content = {name: md5(gzip.decompress((folder / f"{name}.gz").read_bytes())) for name in FILES}

    def use(dataset, **changes):
        fields = {"gz_md5": gz, "content_md5": content, "url": refused_url(), **changes}
        monkeypatch.setitem(mnist.DATASETS, dataset.key, dataclasses.replace(dataset, **fields))
    for dataset in (FASHION_MNIST, MNIST):
        monkeypatch.setitem(mnist.DATASETS, dataset.key, dataclasses.replace(dataset, url=refused_url()))
    use.folder = folder
    return use


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(official):
    """The base URL of a local HTTP server serving the official folder."""
    handler = functools.partial(QuietHandler, directory=str(official.folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def test_name_finds_the_system_folder_first(system, official, write_idx, cache):
    official(FASHION_MNIST)
    folder = write_idx(system / "fashion-mnist")
    write_idx(cache / "fashion-mnist")  # not looked at
    dataset = load_dataset("fashion-mnist", progress=quiet)
    assert dataset.source == f"Fashion-MNIST (IDX files) at {folder}"
    assert dataset.classes == list(FASHION_MNIST.classes) and dataset.flips


def test_system_folder_that_is_not_the_official_copy(system, official, write_idx, idx_arrays):
    official(MNIST)
    idx_arrays["t10k-labels-idx1-ubyte"][0] = 7
    write_idx(system / "mnist")
    with pytest.raises(DataError, match=f"{system / 'mnist'} does not hold the official MNIST files"):
        load_dataset("mnist", progress=quiet)


def test_name_uses_the_cache_folder_without_downloading(system, official, write_idx, cache):
    official(MNIST)  # its address refuses: no download is tried
    folder = write_idx(cache / "mnist")
    calls = []
    dataset = load_dataset("mnist", progress=lambda *a: calls.append(a))
    assert dataset.source == f"MNIST (IDX files) at {folder}"
    assert dataset.classes == [str(i) for i in range(10)] and dataset.flips is False
    assert not [stage for stage in stages(calls) if stage.startswith("downloading")]


def test_name_downloads_once_into_the_cache(system, official, served, cache, idx_arrays):
    official(FASHION_MNIST, url=served)
    calls = []
    dataset = load_dataset("fashion-mnist", progress=lambda *a: calls.append(a))
    assert [s for s in stages(calls) if s.startswith("downloading")] == \
        [f"downloading {name}.gz" for name in FILES]
    assert dataset.source == f"Fashion-MNIST (IDX files) at {cache / 'fashion-mnist'}"
    assert (dataset.test_labels == idx_arrays["t10k-labels-idx1-ubyte"]).all()
    assert sorted(p.name for p in (cache / "fashion-mnist").iterdir()) == sorted(f"{n}.gz" for n in FILES)
    official(FASHION_MNIST)  # a second start needs no server
    calls.clear()
    assert load_dataset("fashion-mnist", progress=lambda *a: calls.append(a)).classes[0] == "T-shirt/top"
    assert stages(calls) == []  # nothing downloaded, nothing decoded: all from the cache


def test_recompressed_download_passes_by_its_content_md5(system, official, served, cache):
    """A mirror's or distribution's .gz has other bytes; the content's md5 still vouches for it."""
    for name in FILES:
        path = official.folder / f"{name}.gz"
        path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1, mtime=1))
    official(MNIST, url=served, gz_md5={name: "0" * 32 for name in FILES})
    assert load_dataset("mnist", progress=quiet).source == f"MNIST (IDX files) at {cache / 'mnist'}"


def test_bad_checksum_is_discarded(system, official, served, cache):
    official(FASHION_MNIST, url=served, gz_md5={name: "0" * 32 for name in FILES},
             content_md5={name: "1" * 32 for name in FILES})
    url = f"{served}train-images-idx3-ubyte.gz"
    with pytest.raises(DataError, match=f"could not download Fashion-MNIST from {url}: the file's md5 "
                                        f"is [0-9a-f]{{32}}, expected 0{{32}} \\(or 1{{32}} gunzipped\\), "
                                        "so it was discarded. Try again, or pass --data PATH"):
        load_dataset("fashion-mnist", progress=quiet)
    assert list((cache / "fashion-mnist").iterdir()) == []
    assert not (cache / "idx").exists()


@pytest.mark.parametrize("dataset", [FASHION_MNIST, MNIST], ids=["fashion", "mnist"])
def test_offline_message(system, official, cache, dataset):
    official(dataset)
    url = mnist.DATASETS[dataset.key].url
    with pytest.raises(DataError) as error:
        load_dataset(dataset.key, progress=quiet)
    message = str(error.value)
    assert message.startswith(f"could not download {dataset.name} from {url}train-images-idx3-ubyte.gz: ")
    assert "Pass --data PATH with a local copy (a folder holding train-images-idx3-ubyte, " \
           "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each .gz or not)" \
           in message
    install = f"apt-get install dataset-fashion-mnist (it installs them in {system / 'fashion-mnist'})"
    assert (install in message) is (dataset is FASHION_MNIST)
    assert list((cache / dataset.key).iterdir()) == []


def test_a_folder_of_that_name_is_taken_as_a_path(system, official, write_idx, tmp_path, monkeypatch):
    official(MNIST)
    monkeypatch.chdir(tmp_path)
    folder = write_idx(tmp_path / "mnist")
    assert load_dataset("mnist", progress=quiet).source == f"MNIST (IDX files) at {folder}"


def test_unknown_name(system, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="--data kmnist: no such file or folder; .* IDX files of MNIST "
                                        r"or Fashion-MNIST \(.*\); or a dataset's name: fashion-mnist, mnist"):
        load_dataset("kmnist", progress=quiet)

