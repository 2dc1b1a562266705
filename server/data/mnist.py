"""MNIST and Fashion-MNIST in their official four IDX files: recognised, found by name, downloaded.

A folder holding the four files (each gzipped or not) is told apart by the files' md5s: those of
the official .gz files and, where known, of their content (what a recompressed copy, such as
Debian's, still shares). A copy that matches neither (a subset, a relative like Kuzushiji-MNIST,
or MNIST gunzipped, whose content md5s are not recorded here) is named by its folder: "fashion"
in the folder's name or its parent's (torchvision keeps FashionMNIST/raw/) gives Fashion-MNIST's
classes; any other gets its label numbers as class names ("0".."9" for MNIST's digits) and no
flips, the safe default: a mirrored digit or letter may not be the same class.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cache import cache_dir, fingerprint, load_arrays, save_arrays
from .dataset import DataError, Dataset
from .download import download
from .idx import read_idx
from .progress import Progress

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")  # each as is, or with .gz
SYSTEM_FOLDER = Path("/usr/share/datasets")  # where Debian's dataset-* packages install


@dataclass(frozen=True)
class IdxDataset:
    name: str  # as shown, e.g. "Fashion-MNIST"
    key: str  # the name --data takes; also its folder's name under SYSTEM_FOLDER and cache_dir()
    classes: tuple[str, ...]
    flips: bool  # see Dataset.flips
    url: str  # the official folder the four .gz files are downloaded from
    gz_md5: dict[str, str]  # file -> md5 of the official .gz file
    content_md5: dict[str, str]  # file -> md5 of its gunzipped content, where known
    package: str | None = None  # the Debian package that installs it under SYSTEM_FOLDER

    def md5s(self, file: str) -> set[str]:
        """The md5s an official copy of `file` may have: of the .gz, or of its content."""
        return {md5 for md5 in (self.gz_md5[file], self.content_md5.get(file)) if md5}


FASHION_MNIST = IdxDataset(
    "Fashion-MNIST", "fashion-mnist",
    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
     "Ankle boot"),
    flips=True,
    url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # Zalando's, as published
    gz_md5={  # published in Fashion-MNIST's README
        "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310"},
    content_md5={  # of Debian's files, whose deflate data is the official .gz files' (only the
        # gzip header differs: restoring its name and time gives the published md5s above)
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965"},
    package="dataset-fashion-mnist",
)
MNIST = IdxDataset(
    "MNIST", "mnist", tuple("0123456789"), flips=False,
    url="https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch's mirror of LeCun's files
    gz_md5={  # of the official files, as torchvision checks them
        "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c"},
    content_md5={},  # not recorded: no copy of MNIST was at hand to compute them from
)
DATASETS = {dataset.key: dataset for dataset in (FASHION_MNIST, MNIST)}


def _find(folder: Path, file: str) -> Path | None:
    """`file` in `folder`, gzipped (the official form) before raw."""
    return next((p for p in (folder / f"{file}.gz", folder / file) if p.is_file()), None)


def is_idx_folder(folder: Path) -> bool:
    """Whether `folder` holds an IDX training-images file (then it must hold all four)."""
    return _find(folder, FILES[0]) is not None


def _files(folder: Path) -> list[Path]:
    found = {file: _find(folder, file) for file in FILES}
    if missing := [file for file, path in found.items() if path is None]:
        raise DataError(f"{folder} is incomplete: missing {', '.join(missing)} (expected "
                        f"{', '.join(FILES)}, each .gz or not: the IDX files of MNIST or "
                        "Fashion-MNIST)")
    return list(found.values())


def _identify(digests: list[set[str]]) -> IdxDataset | None:
    """The official dataset whose four files have these md5s, if any."""
    return next((dataset for dataset in DATASETS.values()
                 if all(found & dataset.md5s(file) for file, found in zip(FILES, digests))), None)


def _decode(folder: Path, files: list[Path], progress: Progress) -> dict[str, np.ndarray]:
    arrays, digests = [], []
    for done, (file, ndim) in enumerate(zip(files, (3, 1, 3, 1))):  # images (N, H, W), labels (N,)
        progress("reading IDX files", done, len(files))
        array, md5s = read_idx(file, ndim)
        arrays.append(array)
        digests.append(md5s)
    progress("reading IDX files", len(files), len(files))
    train_images, train_labels, test_images, test_labels = arrays
    for images, labels in ((0, 1), (2, 3)):
        if len(arrays[images]) != len(arrays[labels]):
            raise DataError(f"{files[images]} holds {len(arrays[images])} images but "
                            f"{files[labels]} holds {len(arrays[labels])} labels; "
                            "they must be as many")
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataError(f"{files[0]} holds {train_images.shape[1:]} images but {files[2]} holds "
                        f"{test_images.shape[1:]}; train and test images must be of one size")
    official = _identify(digests)
    if official is not None:
        dataset, source = official, f"{official.name} (IDX files) at {folder}"
    elif "fashion" in f"{folder.parent.name}/{folder.name}".lower():
        dataset = FASHION_MNIST
        source = f"IDX files at {folder} (unrecognised; Fashion-MNIST's classes, by its name)"
    else:
        dataset, source = None, f"IDX files at {folder} (unrecognised; classes named by label)"
    top = int(max(train_labels.max(initial=0), test_labels.max(initial=0)))
    classes = dataset.classes if dataset else tuple(str(label) for label in range(top + 1))
    if top >= len(classes):
        raise DataError(f"{folder}: labels run up to {top}, but {dataset.name} has {len(classes)} "
                        "classes")
    return {"train_images": train_images[..., None], "train_labels": train_labels.astype(np.int64),
            "test_images": test_images[..., None], "test_labels": test_labels.astype(np.int64),
            "classes": np.array(classes), "source": np.array(source),
            "flips": np.array(dataset.flips if dataset else False),
            "official": np.array(official.name if official else "")}


def load_idx_folder(folder: Path, progress: Progress, expect: IdxDataset | None = None) -> Dataset:
    """The four IDX files in `folder` as (N, H, W, 1) images, decoded on first use, then cached.

    expect: the official dataset the files must be (for a load by name), else DataError.
    """
    folder = folder.resolve()
    files = _files(folder)
    cached = cache_dir() / "idx" / f"{folder.name}-{fingerprint(files)}.npz"
    arrays = load_arrays(cached)
    if arrays is None:
        arrays = _decode(folder, files, progress)
        try:
            save_arrays(cached, arrays)
        except OSError as e:
            warnings.warn(f"could not cache the decoded images in {cached}: {e}", stacklevel=2)
    if expect is not None and str(arrays["official"]) != expect.name:
        raise DataError(f"{folder} does not hold the official {expect.name} files: their md5s are "
                        "not the published ones; replace them with fresh copies")
    return Dataset(arrays["train_images"], arrays["train_labels"], arrays["test_images"],
                   arrays["test_labels"], arrays["classes"].tolist(), str(arrays["source"]),
                   bool(arrays["flips"]))


def load_named(dataset: IdxDataset, progress: Progress) -> Dataset:
    """`dataset` from SYSTEM_FOLDER (Debian's package), else cache_dir(), downloaded there once."""
    system = SYSTEM_FOLDER / dataset.key
    if is_idx_folder(system):
        return load_idx_folder(system, progress, dataset)
    folder = cache_dir() / dataset.key
    local_copy = (f"--data PATH with a local copy (a folder holding {', '.join(FILES)}, each .gz "
                  "or not)")
    if dataset.package:
        local_copy += f", or apt-get install {dataset.package} (it installs them in {system})"
    for file in FILES:
        if _find(folder, file) is None:
            content = dataset.content_md5.get(file)
            download(folder / f"{file}.gz", f"{dataset.url}{file}.gz", dataset.gz_md5[file],
                     progress, what=dataset.name, local_copy=local_copy,
                     gunzipped=[content] if content else [])
    return load_idx_folder(folder, progress, dataset)
