"""The live server's settings: from `convscope serve`'s options, or CONVSCOPE_* variables.

Tests build a Settings object and pass it to create_app (see tests/server/conftest.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

def default_runs_dir() -> Path:
    """$XDG_DATA_HOME/convscope/runs, else ~/.local/share/convscope/runs: runs are data, not cache."""
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "convscope" / "runs"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONVSCOPE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data: str | None = None  # as for load_dataset; None downloads CIFAR-10 once into the cache
    model: str = "convnetjs"  # preset name or SPEC.json
    epochs: float | None = Field(None, gt=0)  # length of the run; None: the preset's own schedule
    device: Literal["auto", "cpu", "cuda"] = "auto"
    probe_hz: float = Field(2.0, gt=0, le=30)  # probe frames per second, at most
    predictions_every: float = Field(3.0, gt=0)  # seconds between example predictions
    command_timeout: float = Field(30.0, gt=0)  # seconds a REST command waits for the worker
    token: str | None = Field(None, min_length=8)  # the owner's token; None: a random one per start
    max_viewers: int = Field(500, ge=1)  # websocket clients at once; more are told the server is full
    classify_per_minute: float = Field(60.0, gt=0)  # uploads classified per client address, sustained
    classify_burst: int = Field(20, ge=1)  # ... and back to back
    commands_per_minute: float = Field(120.0, gt=0)  # commands (and checkpoint downloads) per client address
    commands_burst: int = Field(30, ge=1)
    runs_dir: Path = Field(default_factory=default_runs_dir)  # runs.db and a checkpoint folder per run
    fresh: bool = False  # start a new run rather than go on with the last one
    checkpoint_every: float = Field(30.0, gt=0)  # seconds between checkpoints of the live run
