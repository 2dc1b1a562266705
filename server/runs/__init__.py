"""Runs kept on disk: the run store (SQLite or PostgreSQL), the run folders, and the recorder that fills them."""

from .files import checkpoint_path, new_run_id, read_run_name, run_folder, write_run_name
from .recorder import Recorder, add_run_from, forget_run, import_runs
from .store import RunRecord, RunStore, open_store

__all__ = ["Recorder", "RunRecord", "RunStore", "open_store", "add_run_from", "checkpoint_path", "forget_run",
           "import_runs", "new_run_id", "read_run_name", "run_folder", "write_run_name"]
