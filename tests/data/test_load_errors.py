"""What --data points at when it holds no dataset: a DataError that names the place."""
import zipfile

import pytest

from convscope.data import DataError, load_dataset


def test_missing_path(tmp_path):
    with pytest.raises(DataError, match=f"--data {tmp_path / 'nope'}: no such file or folder"):
        load_dataset(tmp_path / "nope", progress=lambda *a: None)


def test_folder_without_data(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(DataError, match=f"no CIFAR-10 found in {tmp_path}: expected cifar-10-batches-py/, "
                                        r"cifar-10-batches-bin/, cifar-10-python.tar.gz, or an image "
                                        r"folder with train/<class>/ and test/<class>/"):
        load_dataset(tmp_path, progress=lambda *a: None)


def test_file_that_is_no_archive(tmp_path):
    file = tmp_path / "data.tar.gz"
    file.write_bytes(b"hello")
    with pytest.raises(DataError, match=f"{file} is neither a tarball nor a zip archive"):
        load_dataset(file, progress=lambda *a: None)


def test_zip_without_images(tmp_path):
    file = tmp_path / "empty.zip"
    with zipfile.ZipFile(file, "w") as archive:
        archive.writestr("readme.txt", "nothing here")
    with pytest.raises(DataError, match=f"no train images in {file}: expected train/<class>/"):
        load_dataset(file, progress=lambda *a: None)
