"""The live server's settings, the one source of each one's type, default and meaning.

Every field is a `convscope serve` flag (`probe_hz` is `--probe-hz`: cli.py builds the flags from
this model) and a CONVSCOPE_* environment variable (`CONVSCOPE_PROBE_HZ`); a flag that is given
overrides the variable, and the variable the default. Tests build a Settings object and pass it to
create_app (see tests/server/conftest.py). README.md's settings table lists them all, and
tests/server/test_docs.py fails when it drifts.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .train.device import Device

DEFAULT_MODEL = "convnetjs"  # trained when no model is given and there is no last run to go on with


def default_runs_dir() -> Path:
    """$XDG_DATA_HOME/convscope/runs, else ~/.local/share/convscope/runs: runs are data, not cache."""
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "convscope" / "runs"


def shown(value: object) -> str:
    """A default as the README and --help write it: none, yes / no, 2, ~/.local/..."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace(str(Path.home()), "~", 1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONVSCOPE_", extra="ignore")

    host: str = Field("127.0.0.1", description="address to listen on; 0.0.0.0 for every interface")
    port: int = Field(8000, ge=0, le=65535, description="port to listen on")
    data: str | None = Field(None, description="dataset: a CIFAR-10 folder or tarball, an image folder or "
                             ".zip, an MNIST-layout folder, or fashion-mnist or mnist by name; none downloads "
                             "CIFAR-10 once into the cache")
    model: str | None = Field(None, description=f"preset name or SPEC.json, trained in a new run; none: go "
                              f"on with the last run, else {DEFAULT_MODEL}")
    epochs: float | None = Field(None, gt=0, description="length of a new run, in passes over the data; "
                                 "none: the preset's own schedule")
    device: Device = Field("auto", description="where to train: auto picks cuda "
                                                   "when there is a GPU")
    probe_hz: float = Field(2.0, gt=0, le=30, description="probe frames per second, at most")
    predictions_every: float = Field(3.0, gt=0, description="seconds between example predictions")
    command_timeout: float = Field(30.0, gt=0, description="seconds a command waits for the trainer's answer")
    token: str | None = Field(None, min_length=8, description="the owner's token, needed to change the run; "
                              "none: a random one per start, printed in the owner's address")
    max_viewers: int = Field(500, ge=1, description="websocket clients at once; the next is told the server "
                             "is full")
    classify_per_minute: float = Field(60.0, gt=0, description="uploads classified per client address per "
                                       "minute, sustained (then 429)")
    classify_burst: int = Field(20, ge=1, description="uploads a client address may classify back to back")
    commands_per_minute: float = Field(120.0, gt=0, description="commands and checkpoint downloads per client "
                                       "address per minute, sustained")
    commands_burst: int = Field(30, ge=1, description="commands a client address may send back to back")
    forwarded_allow_ips: str | None = Field(None, description="addresses of trusted proxies whose X-Forwarded-For "
                                            "is believed (comma-separated IPs or networks, `*` for any); none: "
                                            "only the direct peer's address, X-Forwarded-For ignored")
    runs_dir: Path = Field(default_factory=default_runs_dir, description="where runs are kept: runs.db and a "
                           "checkpoint folder per run ($XDG_DATA_HOME/convscope/runs where that is set)")
    fresh: bool = Field(False, description="start a new run rather than go on with the last one (a model or "
                        "epochs given imply it)")
    store: str | None = Field(None, description="the run database as an SQLAlchemy URL (sqlite:///runs.db, "
                              "postgresql+psycopg://user:password@host/db); none: runs.db in the runs folder")
    broker: str | None = Field(None, description="Redis URL (redis://host:6379/0, rediss:// for TLS) that "
                               "joins `convscope trainer` and `convscope web`; none: serve trains in a "
                               "process of its own")
    checkpoint_every: float = Field(30.0, gt=0, description="seconds between checkpoints of the live run")
    browser: bool = Field(True, description="open the owner's address in a browser once serving")

    @property
    def new_run(self) -> bool:
        """Whether serving starts a new run rather than going on with the last one."""
        return self.fresh or self.model is not None or self.epochs is not None
