"""Image folders, train/<class>/* and test/<class>/* in a folder or a .zip: decoded once, cached."""
from __future__ import annotations

import io
import multiprocessing
import os
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from .cache import cache_dir, fingerprint, load_arrays, save_arrays
from .dataset import CIFAR10_CLASSES, IMAGE_SIZE, DataError, Dataset
from .progress import Progress

SPLITS = ("train", "test")
CHUNK = 1000  # images per decoding task
PARALLEL_MIN = 4 * CHUNK  # fewer images decode in this process: starting a pool costs ~0.5 s
EXPECTED = "train/<class>/ and test/<class>/ folders of image files (.png, .jpg, ...)"

Reader = Callable[[str], tuple[str, bytes]]  # name -> (where, for messages; the file's bytes)


def _list_folder(root: Path) -> list[str]:
    """Posix names, relative to `root`, of every file under root/train and root/test."""
    names = []
    for split in SPLITS:
        for folder, subfolders, files in os.walk(root / split):
            subfolders.sort()
            relative = Path(folder).relative_to(root).as_posix()
            names += [f"{relative}/{file}" for file in sorted(files)]
    return names


def _zip_root(names: list[str]) -> str:
    """Where train/ lies in a zip: at the top, or inside its one top folder ("name/")."""
    tops = {name.split("/", 1)[0] for name in names if not name.startswith("__MACOSX/")}
    return f"{tops.pop()}/" if len(tops) == 1 and "train" not in tops else ""


def _index(names: list[str], root: str,
           where: Path) -> tuple[list[str], dict[str, list[tuple[str, int]]]]:
    """Classes in label order, and each split's (name, label) pairs, from the names under `root`."""
    suffixes = Image.registered_extensions()
    found: dict[str, dict[str, list[str]]] = {split: {} for split in SPLITS}
    for name in names:
        parts = name[len(root):].split("/") if name.startswith(root) else []
        if (len(parts) >= 3 and parts[0] in SPLITS and not any(p.startswith(".") for p in parts)
                and Path(name).suffix.lower() in suffixes):
            found[parts[0]].setdefault(parts[1], []).append(name)
    for split in SPLITS:
        if not found[split]:
            raise DataError(f"no {split} images in {where}: expected {EXPECTED}")
    if extra := sorted(found["test"].keys() - found["train"].keys()):
        raise DataError(f"{where}: test/{extra[0]}/ has no matching train/{extra[0]}/; "
                        "every test class needs a train folder of the same name")
    classes = sorted(found["train"])
    if set(classes) == set(CIFAR10_CLASSES):
        classes = list(CIFAR10_CLASSES)
    return classes, {split: [(name, label) for label, c in enumerate(classes)
                             for name in sorted(found[split].get(c, []))] for split in SPLITS}


def _decode(where: str, data: bytes) -> np.ndarray:
    """One image as (32, 32, 3) uint8 RGB; other sizes are centre-cropped to square and resized."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (IMAGE_SIZE, IMAGE_SIZE))  # JPEG: decode big photos at reduced size
            rgb = image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"cannot read image {where}: {e}") from None
    if rgb.size != (IMAGE_SIZE, IMAGE_SIZE):  # the centre square, so nothing outside it bleeds in
        width, height = rgb.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        rgb = rgb.crop((left, top, left + side, top + side))
        rgb = rgb.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
    return np.asarray(rgb)


def _decode_chunk(files: list[tuple[str, bytes]]) -> np.ndarray:
    out = np.empty((len(files), IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    for i, (where, data) in enumerate(files):
        out[i] = _decode(where, data)
    return out


@contextmanager
def _pool(n_images: int) -> Iterator[Executor | None]:
    """Processes over all usable cores, or None where one process is as good (or all we may use)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if cpus < 2 or n_images < PARALLEL_MIN or multiprocessing.current_process().daemon:
        yield None
        return
    pool = ProcessPoolExecutor(min(cpus, 8), mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


def _decode_split(read: Reader, names: list[str], stage: str, progress: Progress,
                  pool: Executor | None) -> np.ndarray:
    out = np.empty((len(names), IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    starts = range(0, len(names), CHUNK)
    progress(stage, 0, len(names))
    if pool is None:
        for start in starts:
            out[start:start + CHUNK] = _decode_chunk([read(n) for n in names[start:start + CHUNK]])
            progress(stage, min(start + CHUNK, len(names)), len(names))
    else:  # the bytes are read here, in order, while the workers decode
        futures = {pool.submit(_decode_chunk, [read(n) for n in names[start:start + CHUNK]]): start
                   for start in starts}
        done = 0
        for future in as_completed(futures):
            images = future.result()
            out[futures[future]:futures[future] + len(images)] = images
            done += len(images)
            progress(stage, done, len(names))
    return out


def _reader(source: Path, archive: zipfile.ZipFile | None) -> Reader:
    def read(name: str) -> tuple[str, bytes]:
        where = str(source / name) if archive is None else f"{name} in {source}"
        try:
            return where, (source / name).read_bytes() if archive is None else archive.read(name)
        except (OSError, zipfile.BadZipFile, zlib.error, EOFError, ValueError) as e:
            raise DataError(f"cannot read image {where}: {e}") from None
    return read


def _decode_source(source: Path, names: list[str] | None,
                   progress: Progress) -> dict[str, np.ndarray]:
    """Decode every image of `source`; `names` lists a folder's files, None reads the zip's."""
    try:
        archive = zipfile.ZipFile(source) if names is None else None
    except (OSError, zipfile.BadZipFile) as e:
        raise DataError(f"{source} is not a readable zip archive ({e})") from None
    try:
        names = names if archive is None else archive.namelist()
        classes, splits = _index(names, "" if archive is None else _zip_root(names), source)
        arrays = {"classes": np.array(classes)}
        read = _reader(source, archive)
        with _pool(sum(map(len, splits.values()))) as pool:
            for split, items in splits.items():
                files = [name for name, _ in items]
                arrays[f"{split}_images"] = _decode_split(read, files, f"decoding {split} images",
                                                          progress, pool)
                arrays[f"{split}_labels"] = np.array([label for _, label in items], np.int64)
    finally:
        if archive is not None:
            archive.close()
    return arrays


def load_image_folder(source: Path, progress: Progress) -> Dataset:
    """An image-folder dataset from a folder or a .zip, decoded on first use and then cached."""
    source = source.resolve()
    names = None if source.is_file() else _list_folder(source)
    key = fingerprint([source] if names is None else [source / name for name in names])
    cached = cache_dir() / "imagefolder" / f"{source.stem}-{key}.npz"
    arrays = load_arrays(cached)
    if arrays is None:
        arrays = _decode_source(source, names, progress)
        try:
            save_arrays(cached, arrays)
        except OSError as e:
            warnings.warn(f"could not cache the decoded images in {cached}: {e}", stacklevel=2)
    return Dataset(arrays["train_images"], arrays["train_labels"], arrays["test_images"],
                   arrays["test_labels"], arrays["classes"].tolist(), f"image folder at {source}")
