"""Image-folder datasets in a folder or a zip: decoding, class order, the cache, and bad input."""
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from convscope.data import CIFAR10_CLASSES, DataError, load_dataset
from convscope.data import imagefolder

COLOURS = {"dog": (0, 0, 255), "cat": (255, 0, 0), "emu": (0, 255, 0)}  # emu: train only


def make_folder(root, classes=COLOURS, per_class=3):
    """train/<class>/<i>.png, solid colour per class (lossless); test/ lacks the last class."""
    for split, names in (("train", list(classes)), ("test", list(classes)[:-1])):
        for name in names:
            (root / split / name).mkdir(parents=True)
            for i in range(per_class):
                Image.new("RGB", (32, 32), classes[name]).save(root / split / name / f"{i}.png")
    return root


def make_zip(folder, zip_path, top=""):
    with zipfile.ZipFile(zip_path, "w") as archive:
        for file in sorted(folder.rglob("*")):
            archive.write(file, top + file.relative_to(folder).as_posix())
    return zip_path


def decodes(calls):
    return [stage for stage, _, _ in calls if stage.startswith("decoding")]


def check(dataset):
    assert dataset.classes == ["cat", "dog", "emu"]  # sorted: not the CIFAR-10 names
    assert dataset.train_images.shape == (9, 32, 32, 3) and dataset.test_images.shape == (6, 32, 32, 3)
    assert dataset.train_labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert dataset.test_labels.dtype == np.int64 and dataset.test_labels.tolist() == [0, 0, 0, 1, 1, 1]
    for images, labels in ((dataset.train_images, dataset.train_labels),
                           (dataset.test_images, dataset.test_labels)):
        for image, label in zip(images, labels):
            assert (image == COLOURS[dataset.classes[label]]).all()


def test_folder(tmp_path):
    dataset = load_dataset(make_folder(tmp_path / "pets"), progress=lambda *a: None)
    check(dataset)
    assert dataset.source == f"image folder at {tmp_path / 'pets'}"


@pytest.mark.parametrize("top", ["", "pets/"])
def test_zip(tmp_path, top):
    zip_path = make_zip(make_folder(tmp_path / "pets"), tmp_path / "pets.zip", top)
    check(load_dataset(zip_path, progress=lambda *a: None))


def test_cifar_class_names_keep_cifar_order(tmp_path):
    classes = {name: (i, i, i) for i, name in enumerate(sorted(CIFAR10_CLASSES))}
    dataset = load_dataset(make_folder(tmp_path, classes, per_class=1), progress=lambda *a: None)
    assert dataset.classes == list(CIFAR10_CLASSES)
    for image, label in zip(dataset.train_images, dataset.train_labels):
        assert (image == classes[CIFAR10_CLASSES[label]]).all()


def test_other_sizes_and_modes(tmp_path):
    make_folder(tmp_path)
    wide = np.zeros((48, 64, 3), np.uint8)  # 64 wide: the centre crop drops 8 columns each side
    wide[:, :8], wide[:, 8:56], wide[:, 56:] = (255, 0, 0), (0, 200, 0), (255, 0, 0)
    Image.fromarray(wide).save(tmp_path / "train" / "cat" / "wide.png")
    Image.new("L", (32, 32), 77).save(tmp_path / "train" / "cat" / "grey.png")
    Image.new("RGBA", (32, 32), (10, 20, 30, 40)).save(tmp_path / "train" / "cat" / "rgba.png")
    (tmp_path / "train" / "cat" / "notes.txt").write_text("not an image: skipped")
    dataset = load_dataset(tmp_path, progress=lambda *a: None)
    cats = dict(zip(["0", "1", "2", "grey", "rgba", "wide"], dataset.train_images[:6]))
    assert (cats["wide"] == (0, 200, 0)).all()
    assert (cats["grey"] == 77).all() and (cats["rgba"] == (10, 20, 30)).all()
    assert len(dataset.train_images) == 12


def test_second_load_comes_from_the_cache(tmp_path, cache):
    zip_path = make_zip(make_folder(tmp_path / "pets"), tmp_path / "pets.zip")
    calls = []
    load_dataset(zip_path, progress=lambda *a: calls.append(a))
    assert decodes(calls) and calls[-1][1] == calls[-1][2]
    assert [p.suffix for p in (cache / "imagefolder").iterdir()] == [".npz"]  # no temp file left
    calls.clear()
    check(load_dataset(zip_path, progress=lambda *a: calls.append(a)))
    assert not decodes(calls)


def test_changed_folder_is_decoded_again(tmp_path):
    folder = make_folder(tmp_path / "pets")
    load_dataset(folder, progress=lambda *a: None)
    Image.new("RGB", (32, 32), (1, 2, 3)).save(folder / "test" / "cat" / "new.png")
    calls = []
    assert len(load_dataset(folder, progress=lambda *a: calls.append(a)).test_images) == 7
    assert decodes(calls)


def test_corrupt_cache_is_decoded_again(tmp_path, cache):
    folder = make_folder(tmp_path / "pets")
    load_dataset(folder, progress=lambda *a: None)
    next((cache / "imagefolder").iterdir()).write_bytes(b"garbage")
    check(load_dataset(folder, progress=lambda *a: None))


def test_process_pool(tmp_path, monkeypatch):
    """Chunks decoded by worker processes land in order; a worker's DataError reaches the caller."""
    monkeypatch.setattr(imagefolder, "CHUNK", 2)
    monkeypatch.setattr(imagefolder, "PARALLEL_MIN", 4)
    folder = make_folder(tmp_path / "pets")
    check(load_dataset(folder, progress=lambda *a: None))
    bad = folder / "train" / "dog" / "bad.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=f"cannot read image {bad}"):
        load_dataset(folder, progress=lambda *a: None)


@pytest.mark.parametrize("as_zip", [False, True])
def test_unreadable_image_is_named(tmp_path, as_zip):
    folder = make_folder(tmp_path / "pets")
    (folder / "train" / "emu" / "1.png").write_bytes(b"not a png at all")
    source = make_zip(folder, tmp_path / "pets.zip") if as_zip else folder
    where = f"train/emu/1.png in {source}" if as_zip else str(folder / "train" / "emu" / "1.png")
    with pytest.raises(DataError, match=f"cannot read image {where}"):
        load_dataset(source, progress=lambda *a: None)


def test_test_class_missing_from_train(tmp_path):
    folder = make_folder(tmp_path / "pets")
    shutil.copytree(folder / "test" / "cat", folder / "test" / "yak")
    with pytest.raises(DataError, match=f"{folder}: test/yak/ has no matching train/yak/"):
        load_dataset(folder, progress=lambda *a: None)


def test_no_test_images(tmp_path):
    folder = make_folder(tmp_path / "pets")
    shutil.rmtree(folder / "test")
    with pytest.raises(DataError, match=f"no test images in {folder}: expected train/<class>/"):
        load_dataset(folder, progress=lambda *a: None)
