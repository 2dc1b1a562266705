"""docs/examples/watch_lenet.py runs as docs/watch.md says, on the real Fashion-MNIST, and
docs/watch.md shows it as it is."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from convscope.data.mnist import FILES
from support import unavailable

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs/examples/watch_lenet.py"
DEBIAN = Path("/usr/share/datasets/fashion-mnist")
STEPS = 20


@pytest.fixture(scope="module")
def fashion_mnist() -> Path:
    if not all((DEBIAN / f"{name}.gz").is_file() for name in FILES):
        unavailable(f"{DEBIAN} lacks Debian's Fashion-MNIST", "apt-get install dataset-fashion-mnist")
    return DEBIAN


def test_the_example_trains_and_prints_the_page_address(fashion_mnist, private_cache, tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLE), "--steps", str(STEPS), "--data", str(fashion_mnist),
                           "--port", "0"], cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"convscope\.watch: Sequential is live at http://127\.0\.0\.1:\d+/\?token=\S+", done.stderr)
    assert re.search(rf"^step {STEPS}: test loss \d+\.\d+, test accuracy 0\.\d+$", done.stdout, re.M), done.stdout


def test_docs_show_the_example_verbatim():
    assert EXAMPLE.read_text() in (ROOT / "docs/watch.md").read_text()
