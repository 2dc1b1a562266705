"""load_dataset: recognise what --data points at or names (or download CIFAR-10) and load it."""
from __future__ import annotations

import os
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path

from .archive import extract_tarball
from .cache import cache_dir, fingerprint
from .cifar import BINARY_FOLDER, PYTHON_FOLDER, load_binary_batches, load_python_batches
from .dataset import DataError, Dataset
from .download import download
from .imagefolder import load_image_folder
from .mnist import DATASETS, FILES, is_idx_folder, load_idx_folder, load_named
from .progress import Progress, reporter

TARBALLS = ("cifar-10-python.tar.gz", "cifar-10-binary.tar.gz")
EXPECTED = (f"{PYTHON_FOLDER}/, {BINARY_FOLDER}/, {TARBALLS[0]}, "
            "or an image folder with train/<class>/ and test/<class>/; "
            f"or the IDX files of MNIST or Fashion-MNIST ({', '.join(FILES)}, each .gz or not)")


def _load_folder(folder: Path, progress: Progress) -> Dataset | None:
    """CIFAR-10 in any layout `folder` holds (or is), or None when it holds none."""
    if folder.name == PYTHON_FOLDER or (folder / "batches.meta").is_file():
        return load_python_batches(folder, progress)
    if folder.name == BINARY_FOLDER or (folder / "batches.meta.txt").is_file():
        return load_binary_batches(folder, progress)
    if (folder / PYTHON_FOLDER).is_dir():
        return load_python_batches(folder / PYTHON_FOLDER, progress)
    if (folder / BINARY_FOLDER).is_dir():
        return load_binary_batches(folder / BINARY_FOLDER, progress)
    if is_idx_folder(folder):
        return load_idx_folder(folder, progress)
    if (folder / "train").is_dir():
        return load_image_folder(folder, progress)
    for name in TARBALLS:
        if (folder / name).is_file():
            return _load_file(folder / name, progress)
    return None


def _load_file(file: Path, progress: Progress) -> Dataset:
    if zipfile.is_zipfile(file):
        return load_image_folder(file, progress)
    if not tarfile.is_tarfile(file):
        raise DataError(f"{file} is neither a tarball nor a zip archive: --data takes a folder "
                        f"holding {EXPECTED}, or such a tarball or zip itself")
    file = file.resolve()
    folder = extract_tarball(file, cache_dir() / "extracted" / f"{file.name}-{fingerprint([file])}",
                             progress)
    dataset = _load_folder(folder, progress)
    if dataset is None:
        raise DataError(f"{file} holds no CIFAR-10: expected {PYTHON_FOLDER}/ or {BINARY_FOLDER}/ "
                        "inside, as in the official tarballs")
    return replace(dataset, source=f"{dataset.source}, extracted from {file}")


def _load_default(progress: Progress) -> Dataset:
    """CIFAR-10 from the cache folder, downloaded and extracted there the first time."""
    folder = cache_dir() / "cifar-10"
    if not folder.is_dir():
        tarball = download(cache_dir() / TARBALLS[0], progress=progress)
        extract_tarball(tarball, folder, progress)
        tarball.unlink()
    return load_python_batches(folder / PYTHON_FOLDER, progress)


def load_dataset(path: str | os.PathLike | None, progress: Progress | None = None) -> Dataset:
    """The dataset at `path` (see EXPECTED), or CIFAR-10 downloaded once into cache_dir() for None.

    A `path` that is no file or folder may name a dataset: "fashion-mnist" or "mnist" (see
    mnist.load_named: Debian's copy, else the cache, else downloaded once into it).

    progress: called with (stage, done, total), at most ~10 times a second; None shows a tqdm bar.
    Raises DataError, with a message for the user, when the data is missing or bad.
    """
    progress = reporter(progress)
    if path is None:
        return _load_default(progress)
    name, path = os.fspath(path), Path(path).expanduser()
    if path.is_file():
        return _load_file(path, progress)
    if not path.is_dir():
        if name in DATASETS:
            return load_named(DATASETS[name], progress)
        raise DataError(f"--data {path}: no such file or folder; expected a folder holding "
                        f"{EXPECTED}; or a dataset's name: {', '.join(DATASETS)}")
    dataset = _load_folder(path, progress)
    if dataset is None:
        raise DataError(f"no CIFAR-10 found in {path}: expected {EXPECTED}")
    return dataset
