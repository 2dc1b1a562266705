"""CI's check of the built package: what the wheel holds, and `convscope serve` from the install.

    python .ci/smoke.py dist/convscope-*.whl     # run with the venv the wheel is installed in

Prints the wheel's top folders and sizes, fails if a file the page needs is missing from it, then
starts `convscope serve` from a temporary folder (so nothing of the checkout can be imported)
against a small image folder and checks that /, a static module and /learn/conv answer 200 with
their real content.
"""

from __future__ import annotations

import collections
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

NEEDED = ["convscope/templates/index.html", "convscope/templates/learn_conv.html", "convscope/static/js/main.js",
          "convscope/static/css/main.css", "convscope/static/vendor/uplot/uPlot.esm.js",
          "convscope/static/vendor/uplot/LICENSE", "convscope/__main__.py", "convscope/cli.py"]


def wheel_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        sizes: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
        for info in z.infolist():
            parts = info.filename.split("/")
            top = "/".join(parts[:2]) + "/" if len(parts) > 2 else parts[0]
            sizes[top][0] += 1
            sizes[top][1] += info.file_size
    print(f"{wheel.name}: {len(names)} files, {sum(s for _, s in sizes.values()) / 1024:,.0f} KiB")
    for top, (files, size) in sorted(sizes.items()):
        print(f"  {top:<36} {files:>4} files {size / 1024:>9,.1f} KiB")
    missing = [name for name in NEEDED if name not in names]
    assert not missing, f"the wheel lacks {missing}"


def image_folder(root: Path) -> Path:
    """Ten classes of flat-coloured 32x32 PNGs (PIL comes with the install)."""
    from PIL import Image

    for split, n in (("train", 8), ("test", 2)):
        for c in range(10):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (32, 32), (25 * c, 10 * i, 128)).save(folder / f"{i}.png")
    return root


def get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers["content-type"], r.read().decode()


def serve_from_install() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        data = image_folder(tmp_path / "images")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "CONVSCOPE_CACHE": str(tmp_path / "cache"), "XDG_DATA_HOME": str(tmp_path / "home")}
        command = [sys.executable, "-m", "convscope", "serve", "--port", str(port), "--data", str(data),
                   "--device", "cpu", "--no-browser"]
        server = subprocess.Popen(command, cwd=tmp, env=env, stderr=subprocess.PIPE, text=True)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    get(f"{base}/api/health")
                    break
                except OSError:
                    assert server.poll() is None, f"convscope serve exited: {server.stderr.read()}"
                    assert time.monotonic() < deadline, "convscope serve did not answer within 60 s"
                    time.sleep(0.3)
            checks = [("/", "text/html", "<title>convscope"), ("/static/js/main.js", "javascript", "import "),
                      ("/learn/conv", "text/html", "onvolution")]
            for path, kind, text in checks:
                status, content_type, body = get(base + path)
                assert status == 200 and kind in content_type and text in body, \
                    f"{path}: {status} {content_type}, {body[:200]!r}"
                print(f"  GET {path}: {status} {content_type}, {len(body):,} characters")
        finally:
            server.terminate()
            server.wait(30)
    import convscope

    print(f"convscope serve from {Path(convscope.__file__).parent}: the page, a module and a lesson served")


if __name__ == "__main__":
    wheel_contents(Path(sys.argv[1]))
    serve_from_install()
