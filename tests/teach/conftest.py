"""Run the page's pure JS modules under node: `run_js("static/js/teach/conv.js", [("conv2d", [...])])`.

Skipped when node is missing (`apt-get install -y nodejs`); under CI (CI=true) that is an error instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support import unavailable

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("run_js.mjs")


@pytest.fixture(scope="session")
def run_js():
    node = shutil.which("node")
    if node is None:
        unavailable("node is missing (the page's JS modules are tested under it)", "apt-get install nodejs")

    def run(module: str, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        payload = json.dumps([{"fn": fn, "args": args} for fn, args in calls])
        done = subprocess.run([node, str(RUNNER), str(ROOT / module)], input=payload, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run
