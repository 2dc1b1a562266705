"""Dependencies for routes: the settings and the live objects the app's lifespan created."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from .hub import Hub
from .inference.live import LiveClassifier
from .mirror import RunMirror
from .runs import Recorder, RunStore
from .settings import Settings
from .worker import Worker


def get_settings(conn: HTTPConnection) -> Settings:
    return conn.app.state.settings


def get_worker(conn: HTTPConnection) -> Worker:
    return conn.app.state.worker


def get_mirror(conn: HTTPConnection) -> RunMirror:
    return conn.app.state.mirror


def get_hub(conn: HTTPConnection) -> Hub:
    return conn.app.state.hub


def get_store(conn: HTTPConnection) -> RunStore:
    return conn.app.state.store


def get_recorder(conn: HTTPConnection) -> Recorder | None:
    """None on a web server of a split deployment: its trainer writes the store."""
    return conn.app.state.recorder


def get_classifier(conn: HTTPConnection) -> LiveClassifier:
    return conn.app.state.classifier


SettingsDep = Annotated[Settings, Depends(get_settings)]
WorkerDep = Annotated[Worker, Depends(get_worker)]
MirrorDep = Annotated[RunMirror, Depends(get_mirror)]
HubDep = Annotated[Hub, Depends(get_hub)]
StoreDep = Annotated[RunStore, Depends(get_store)]
RecorderDep = Annotated[Recorder | None, Depends(get_recorder)]
ClassifierDep = Annotated[LiveClassifier, Depends(get_classifier)]
