"""`convscope trainer`: the training half of a split deployment, in this process.

    run_trainer(Settings(broker="redis://host:6379/0", store="postgresql://...", data="~/cifar"))

The same Session as the embedded worker's, with its queues bridged to the broker
(server/bus/source.py); it records the run into the store itself, so the web servers only read it.
Started again after a crash, it goes on with the last run from its checkpoint, even when the
settings name a model (unlike `serve`): only --fresh starts a new run.
SIGTERM or Ctrl-C saves a checkpoint and stops.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import sys
from pathlib import Path

from .app import last_run, worker_options
from .bus.broker import shown_url
from .bus.source import TrainerLink
from .messages import Command
from .runs import Recorder, import_runs, open_store
from .settings import Settings
from .worker.outbox import Outbox
from .worker.session import Session

log = logging.getLogger("convscope.trainer")


def run_trainer(settings: Settings) -> None:
    if not settings.broker:
        raise ValueError("a trainer needs a broker (--broker redis://HOST:6379/0)")
    options = worker_options(settings)
    runs_dir = Path(options.runs_dir)
    store = open_store(settings.store or runs_dir / "runs.db")
    if store.fresh:
        import_runs(store, runs_dir)
    # restarted by its supervisor with the same settings, it goes on with the last run: only
    # --fresh starts a new one (a model and epochs apply when there is no run to go on with)
    last = None if settings.fresh else last_run(store, runs_dir)
    recorder = Recorder(store, runs_dir)
    link = TrainerLink(settings.broker, record=recorder.record, store_problem=lambda: recorder.problem)

    def stop(signum: int, frame: object) -> None:
        link.commands.put(Command(0, "stop"))  # the Session saves a checkpoint, then returns

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    link.start()
    outbox = Outbox(link.events)
    outbox.start()
    print(f"convscope: training for the web servers of {shown_url(settings.broker)}"
          + (f", going on with run {last.id}" if last else ""), file=sys.stderr, flush=True)
    try:
        Session(dataclasses.replace(options, resume=last.id if last else None), link.commands, outbox).run()
    finally:
        outbox.close()
        link.close()
        recorder.close()  # its queued writes, before the store closes
        store.close()
