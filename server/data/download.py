"""Download CIFAR-10 once: streamed with progress, md5-checked, written atomically."""
from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.request
from pathlib import Path

from .dataset import DataError
from .progress import Progress, reporter

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
LOCAL_COPY = ("--data PATH with a local copy (a folder holding cifar-10-batches-py/ or "
              "cifar-10-batches-bin/, the cifar-10-python.tar.gz tarball, or an image folder "
              "with train/<class>/ and test/<class>/)")


def download(dest: Path, url: str = CIFAR10_URL, md5: str = CIFAR10_MD5,
             progress: Progress | None = None, timeout: float = 30) -> Path:
    """Fetch `url` to `dest` unless it is there; only a file with the right md5 ever appears."""
    if dest.is_file():
        return dest
    progress = reporter(progress)
    stage = f"downloading {dest.name}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(dir=dest.parent, prefix=f"{dest.name}.", suffix=".part")
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as response:
            total, done = int(response.headers.get("Content-Length") or 0), 0
            while chunk := response.read(1 << 20):
                f.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                progress(stage, done, total)
        if digest.hexdigest() != md5:
            raise DataError(f"could not download CIFAR-10 from {url}: the file's md5 is "
                            f"{digest.hexdigest()}, expected {md5}, so it was discarded. "
                            f"Try again, or pass {LOCAL_COPY}")
        os.replace(part, dest)
    except (OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", None) or e
        raise DataError(f"could not download CIFAR-10 from {url}: {reason}. "
                        f"Pass {LOCAL_COPY}") from None
    finally:
        if os.path.exists(part):
            os.unlink(part)
    return dest
