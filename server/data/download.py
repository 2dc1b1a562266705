"""Download a dataset file once: streamed with progress, md5-checked, written atomically."""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.request
import zlib
from collections.abc import Collection
from pathlib import Path

from .dataset import DataError
from .progress import Progress, reporter

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
LOCAL_COPY = ("--data PATH with a local copy (a folder holding cifar-10-batches-py/ or "
              "cifar-10-batches-bin/, the cifar-10-python.tar.gz tarball, or an image folder "
              "with train/<class>/ and test/<class>/)")


def _gunzipped_md5(file: Path) -> str | None:
    """The md5 of `file`'s gunzipped content, None when it is no whole gzip file."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with gzip.open(file) as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error):
        return None
    return digest.hexdigest()


def download(dest: Path, url: str = CIFAR10_URL, md5: str | Collection[str] = CIFAR10_MD5,
             progress: Progress | None = None, timeout: float = 30, *, what: str = "CIFAR-10",
             local_copy: str = LOCAL_COPY, gunzipped: Collection[str] = ()) -> Path:
    """Fetch `url` to `dest` unless it is there; only a file with the right md5 ever appears.

    md5: the accepted md5s of the file; gunzipped: those of its gunzipped content, also accepted
    (a copy recompressed by a mirror or a distribution has other bytes than the official .gz).
    what, local_copy: the data's name, and what else to pass as --data, for the messages.
    """
    if dest.is_file():
        return dest
    accepted = {md5} if isinstance(md5, str) else set(md5)
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
        found = digest.hexdigest()
        if found not in accepted and not (gunzipped and _gunzipped_md5(Path(part)) in gunzipped):
            also = f" (or {', '.join(sorted(gunzipped))} gunzipped)" if gunzipped else ""
            raise DataError(f"could not download {what} from {url}: the file's md5 is "
                            f"{found}, expected {', '.join(sorted(accepted))}{also}, "
                            f"so it was discarded. Try again, or pass {local_copy}")
        os.replace(part, dest)
    except (OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", None) or e
        raise DataError(f"could not download {what} from {url}: {reason}. "
                        f"Pass {local_copy}") from None
    finally:
        if os.path.exists(part):
            os.unlink(part)
    return dest
