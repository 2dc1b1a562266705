"""The official CIFAR-10 batch formats: python pickles and binary records."""
from __future__ import annotations

import codecs
import pickle
from pathlib import Path

import numpy as np

from .dataset import IMAGE_SIZE, DataError, Dataset
from .progress import Progress

PYTHON_FOLDER = "cifar-10-batches-py"
BINARY_FOLDER = "cifar-10-batches-bin"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
PIXELS = 3 * IMAGE_SIZE * IMAGE_SIZE  # bytes per image, CHW row-major

_RECONSTRUCT = np.empty(0).__reduce__()[0]  # numpy's array unpickler, wherever this numpy keeps it
_ALLOWED = {  # everything an official batch pickle may name: data, never code
    ("_codecs", "encode"): codecs.encode,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a batch never does")
        return _ALLOWED[module, name]


def _require(folder: Path, names: list[str], what: str) -> None:
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder} is incomplete: missing {', '.join(missing)} "
                        f"(expected {', '.join(names)}: the official CIFAR-10 {what})")


def _to_hwc(chw_rows: np.ndarray) -> np.ndarray:
    """(N, 3072) CHW rows -> (N, 32, 32, 3) HWC images."""
    images = chw_rows.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images)


def _check_labels(labels: np.ndarray, classes: list[str], file: Path) -> np.ndarray:
    if labels.size and not 0 <= labels.min() <= labels.max() < len(classes):
        raise DataError(f"{file}: labels run from {labels.min()} to {labels.max()}, "
                        f"but there are {len(classes)} classes")
    return labels.astype(np.int64)


def _assemble(batches: list[tuple[np.ndarray, np.ndarray]], classes: list[str],
              source: str) -> Dataset:
    """One Dataset from the five train batches and the test batch, in that order."""
    train_images, train_labels = zip(*batches[:-1])
    test_images, test_labels = batches[-1]
    return Dataset(np.concatenate(train_images), np.concatenate(train_labels),
                   test_images, test_labels, classes, source)


def _unpickle(file: Path) -> object:
    try:
        with file.open("rb") as f:
            return _BatchUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, UnicodeDecodeError) as e:
        raise DataError(f"{file} is truncated or corrupt ({type(e).__name__}: {e}); replace it "
                        "with a fresh copy of the official CIFAR-10 python batches") from None


def _python_batch(file: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(file)
    batch = batch if isinstance(batch, dict) else {}
    data, labels = batch.get(b"data"), np.asarray(batch.get(b"labels", []))
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == PIXELS and labels.dtype.kind in "iu"
            and labels.shape == data.shape[:1]):
        raise DataError(f"{file} is not a CIFAR-10 python batch: expected a dict with b'data', "
                        f"(N, {PIXELS}) uint8, and b'labels', N ints")
    return _to_hwc(data), _check_labels(labels, classes, file)


def load_python_batches(folder: Path, progress: Progress) -> Dataset:
    """CIFAR-10 from the official python pickle batches in `folder` (cifar-10-batches-py/)."""
    names = [*TRAIN_BATCHES, TEST_BATCH]
    _require(folder, [*names, "batches.meta"], "python batches")
    meta = _unpickle(folder / "batches.meta")
    label_names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if not (isinstance(label_names, list) and all(isinstance(n, bytes) for n in label_names)):
        raise DataError(f"{folder / 'batches.meta'} has no b'label_names' list of class names")
    classes = [name.decode() for name in label_names]
    batches = []
    for done, name in enumerate(names):
        progress("reading CIFAR-10 python batches", done, len(names))
        batches.append(_python_batch(folder / name, classes))
    progress("reading CIFAR-10 python batches", len(names), len(names))
    return _assemble(batches, classes, f"CIFAR-10 (python batches) at {folder}")


def _binary_batch(file: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    raw = np.fromfile(file, dtype=np.uint8)
    if raw.size == 0 or raw.size % (1 + PIXELS):
        raise DataError(f"{file} is truncated or corrupt: {raw.size} bytes is not a whole number "
                        f"of {1 + PIXELS}-byte records (1 label byte + {PIXELS} pixel bytes)")
    records = raw.reshape(-1, 1 + PIXELS)
    return _to_hwc(records[:, 1:]), _check_labels(records[:, 0], classes, file)


def load_binary_batches(folder: Path, progress: Progress) -> Dataset:
    """CIFAR-10 from the official binary batches in `folder` (cifar-10-batches-bin/)."""
    names = [f"{name}.bin" for name in (*TRAIN_BATCHES, TEST_BATCH)]
    _require(folder, [*names, "batches.meta.txt"], "binary batches")
    meta = (folder / "batches.meta.txt").read_text(errors="replace")
    classes = [line.strip() for line in meta.splitlines() if line.strip()]
    batches = []
    for done, name in enumerate(names):
        progress("reading CIFAR-10 binary batches", done, len(names))
        batches.append(_binary_batch(folder / name, classes))
    progress("reading CIFAR-10 binary batches", len(names), len(names))
    return _assemble(batches, classes, f"CIFAR-10 (binary batches) at {folder}")
