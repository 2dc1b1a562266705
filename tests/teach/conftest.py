"""Run the page's pure JS modules under node: `run_js("static/js/teach/conv.js", [("conv2d", [...])])`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("run_js.mjs")


@pytest.fixture(scope="session")
def run_js():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the page's JS modules are tested under node")

    def run(module: str, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        payload = json.dumps([{"fn": fn, "args": args} for fn, args in calls])
        done = subprocess.run([node, str(RUNNER), str(ROOT / module)], input=payload, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run
