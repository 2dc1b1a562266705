"""The wheel holds every package of the checkout: pyproject.toml lists them by hand."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_folder_of_server_is_a_package_of_the_wheel():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {f"convscope.{p.parent.name}" for p in (ROOT / "server").glob("*/__init__.py")}
    assert folders <= set(setuptools["packages"]), f"missing from pyproject.toml: {folders - set(setuptools['packages'])}"
