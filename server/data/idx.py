"""The IDX file format of MNIST and Fashion-MNIST: one array per file, gzipped or not."""
from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from .dataset import DataError

UBYTE = 0x08  # the type code of unsigned bytes, the only one these datasets use


def _gunzip(file: Path, stored: bytes) -> bytes:
    if stored[:2] != b"\x1f\x8b":  # a raw IDX file starts with two zero bytes
        return stored
    try:
        return gzip.decompress(stored)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{file} is truncated or corrupt ({e}); "
                        "replace it with a fresh copy of the official file") from None


def read_idx(file: Path, ndim: int) -> tuple[np.ndarray, set[str]]:
    """The `ndim`-dimensional uint8 array in `file`, and the md5s of its bytes stored and gunzipped.

    Layout: magic 0x00 0x00, type code, ndim; ndim big-endian uint32 sizes; the values, row-major.
    """
    try:
        stored = file.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {file}: {e}") from None
    data = _gunzip(file, stored)
    magic, header = bytes((0, 0, UBYTE, ndim)), 4 + 4 * ndim
    if len(data) >= 4 and data[:4] != magic:
        raise DataError(f"{file} is not an IDX file of {ndim}-dimensional unsigned bytes: its magic "
                        f"number is 0x{data[:4].hex()}, expected 0x{magic.hex()}")
    if len(data) < header:
        raise DataError(f"{file} is truncated: {len(data)} bytes, less than its {header}-byte header")
    shape = tuple(int(size) for size in np.frombuffer(data, ">u4", ndim, 4))
    size, values = int(np.prod(shape, dtype=np.int64)), len(data) - header
    if values != size:
        raise DataError(f"{file} is {'truncated' if values < size else 'corrupt'}: its header says "
                        f"{' x '.join(map(str, shape))} = {size} values, it holds {values}")
    array = np.frombuffer(data, np.uint8, offset=header).reshape(shape).copy()  # writable
    digests = {hashlib.md5(stored, usedforsecurity=False).hexdigest(),
               hashlib.md5(data, usedforsecurity=False).hexdigest()}
    return array, digests
