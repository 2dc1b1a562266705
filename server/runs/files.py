"""Where a run's files live: runs_dir/<run id>/last.pt (its checkpoint) and last.json (its name).

The worker writes them (server/worker/session.py); the server reads them to import a run the
database does not know (server/runs/recorder.py) and deletes them with the run.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{4}")  # e.g. 20261124-101500-3fa2: sorts by start time


def new_run_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def run_folder(runs_dir: Path, run_id: str) -> Path:
    if not RUN_ID.fullmatch(run_id):  # never a path outside runs_dir
        raise ValueError(f"not a run id: {run_id!r}")
    return runs_dir / run_id


def checkpoint_path(runs_dir: Path, run_id: str) -> Path:
    return run_folder(runs_dir, run_id) / "last.pt"


def write_run_name(runs_dir: Path, run_id: str, name: str, step: int) -> None:
    """last.json beside the checkpoint, atomically: the run's name survives a lost database."""
    path = run_folder(runs_dir, run_id) / "last.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"name": name, "step": step}))
    tmp.replace(path)


def read_run_name(runs_dir: Path, run_id: str) -> str:
    return json.loads((run_folder(runs_dir, run_id) / "last.json").read_text())["name"]
