"""Safe, all-or-nothing extraction of a tarball such as cifar-10-python.tar.gz."""
from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from .dataset import DataError
from .progress import Progress


def _extract_into(tarball: Path, folder: Path, progress: Progress) -> None:
    """Regular files and folders only; names that would land outside `folder` are refused."""
    stage, total = f"extracting {tarball.name}", tarball.stat().st_size
    with tarball.open("rb") as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
        for member in tar:  # streamed: one pass over the compressed bytes
            parts = PurePosixPath(member.name).parts
            if member.name.startswith(("/", "\\")) or ".." in parts:
                raise DataError(f"{tarball} holds {member.name!r}, a path outside the archive; "
                                "refusing to extract it")
            target = folder.joinpath(*parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            progress(stage, raw.tell(), total)
    progress(stage, total, total)


def extract_tarball(tarball: Path, dest: Path, progress: Progress) -> Path:
    """Extract `tarball` into the folder `dest`, which appears whole or not at all (kept if there)."""
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    try:
        _extract_into(tarball, tmp, progress)
        os.replace(tmp, dest)
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise DataError(f"{tarball} is truncated or corrupt ({e}); "
                        "replace it with a fresh copy of the official tarball") from None
    except OSError:
        if not dest.is_dir():  # else another process extracted it first: use theirs
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
