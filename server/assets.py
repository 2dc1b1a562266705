"""The page's files shipped inside the package: templates/ and static/ of the checkout.

pyproject.toml maps them to convscope.templates and convscope.static, so they are found the same
way from a wheel, an sdist or an editable install, never through the checkout's path.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def package_folder(name: str) -> Path:
    """convscope.<name>'s folder on disk: "static" or "templates"."""
    return Path(str(resources.files(f"{__package__}.{name}")))
