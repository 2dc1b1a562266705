"""Progress reporting (tqdm or a throttled callback) and the cache folder's location."""
from pathlib import Path

from convscope.data import cache_dir
from convscope.data.progress import Throttled, TqdmProgress, reporter


def test_throttled_passes_first_last_and_stage_changes():
    calls = []
    report = Throttled(lambda *a: calls.append(a), interval=60)
    for done in range(1001):
        report("decoding train images", done, 1000)
    report("decoding test images", 0, 10)
    assert calls == [("decoding train images", 0, 1000), ("decoding train images", 1000, 1000),
                     ("decoding test images", 0, 10)]


def test_reporter():
    assert isinstance(reporter(None), TqdmProgress)
    throttled = reporter(print)
    assert isinstance(throttled, Throttled) and reporter(throttled) is throttled


def test_tqdm_bar_per_stage(capsys):
    report = TqdmProgress()
    report("downloading x.tar.gz", 512, 1024)
    report("downloading x.tar.gz", 1024, 1024)
    report("decoding train images", 3, 3)
    # each bar is redrawn in place ("\r") and closed when done ("\n"): its last drawing per line
    finals = [line.rsplit("\r", 1)[-1] for line in capsys.readouterr().err.split("\n") if line]
    assert len(finals) == 2, finals  # one bar per stage
    assert finals[0].startswith("downloading x.tar.gz: 100%") and "| 1.02k/1.02k [" in finals[0], finals
    assert "B/s]" in finals[0]  # bytes, scaled: 1024 B is 1.02k
    assert finals[1].startswith("decoding train images: 100%") and "| 3/3 [" in finals[1] and "img/s]" in finals[1]


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVSCOPE_CACHE", str(tmp_path / "own"))
    assert cache_dir() == tmp_path / "own"
    monkeypatch.delenv("CONVSCOPE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "convscope"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "convscope"
