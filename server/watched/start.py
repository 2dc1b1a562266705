"""convscope.watch(): a user's own model and training loop on convscope's live page.

    import convscope
    viz = convscope.watch(model, probe=images, labels=labels, classes=names, optimizer=opt)
    for step, (x, y) in enumerate(loader, 1):
        ...; loss.backward(); opt.step()
        viz.log(step, loss=loss, accuracy=acc, batch_size=len(x))
    viz.close()

The page is served from this process (a thread; in Jupyter it shows inline) unless `broker` names
the Redis of a split deployment (docs/deploy.md), whose web servers then show the run. Under
torchrun only rank 0 reports: the other ranks get a Watch that does nothing. docs/watch.md has
the whole story.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..settings import Settings
from ..worker.outbox import Outbox
from .layers import layer_table
from .local import LocalPage
from .session import Watch

log = logging.getLogger("convscope.watch")


class Idle:
    """The Watch of a rank that does not report (torchrun's ranks other than 0): it does nothing."""
    url = None

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass

    def evaluate(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self, *args: Any) -> None:
        pass

    def __enter__(self) -> "Idle":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def watch(model: nn.Module, probe: torch.Tensor, labels: Sequence[int] | torch.Tensor | None = None,
          classes: Sequence[str] | None = None, *, optimizer: torch.optim.Optimizer | None = None,
          control: bool = False, layers: Sequence[str] | None = None,
          preprocess: Callable[[Any], torch.Tensor] | None = None, name: str | None = None,
          host: str = "127.0.0.1", port: int = 8000, broker: str | None = None, store: str | None = None,
          probe_hz: float = 2.0, runs_dir: str | Path | None = None, show: bool = True) -> Watch | Idle:
    """Show `model` learning, live: start (or join) the page and return the Watch to log to.

    probe: a few inputs (N, C, H, W), normalised as the loop's own batches; the page shows them and
      the model's layers on the one picked. labels: their classes (the page's predictions need them).
    classes: the class names (default "0", "1", ...). optimizer: its learning rate is charted, and,
      with control=True, the page may pause the loop and change its learning rate and momentum.
    layers: the modules to show by qualified name (default: every leaf module that runs).
    preprocess: a PIL image -> input tensor, for uploads (default: resized and normalised as the probe).
    broker: a split deployment's Redis: its web servers show the run instead of this process; store:
      that deployment's run database (its --store), where this process then records the run.
    show: print the page's address (and in Jupyter show the page inline)."""
    if _rank() != 0:
        return Idle()
    if not isinstance(model, nn.Module):
        raise TypeError(f"watch() needs a torch.nn.Module, not {type(model).__name__}")
    probe = torch.as_tensor(probe)
    table = layer_table(model, probe, list(layers) if layers is not None else None)
    outputs = table[-1].row.output_shape[0] if table and table[-1].module is None else None
    classes = list(classes) if classes is not None else [str(i) for i in range(outputs or 0)]
    if outputs is not None and len(classes) != outputs:
        raise ValueError(f"{len(classes)} class names for a model with {outputs} outputs")
    if labels is not None:
        labels = torch.as_tensor(labels).reshape(-1)
        if len(labels) != len(probe):
            raise ValueError(f"{len(labels)} labels for {len(probe)} probe images")
        if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < len(classes):
            raise ValueError(f"the labels must be class indices from 0 to {len(classes) - 1}")
    name = name or type(model).__name__
    options = dict(name=name, optimizer=optimizer, control=control, probe_hz=probe_hz, preprocess=preprocess)
    if broker:
        return joined(model, probe, labels, classes, table, broker, store, runs_dir, show, **options)
    settings = Settings(host=host, port=port, runs_dir=Path(runs_dir) if runs_dir else Settings().runs_dir)
    page = LocalPage.start(settings)
    if page.watch is not None and not page.watch.closed.is_set():
        log.warning("convscope.watch: a new watch() replaces the run %s on the page: it is closed", page.watch.run_id)
    page.release()
    outbox = Outbox(page.events)
    outbox.start()
    page.watch = Watch(model, probe, labels, classes, table, outbox, page.commands, url=page.owner_url, **options)
    viz = page.watch
    if show:
        announce(page, name)
    return viz


def joined(model: nn.Module, probe: torch.Tensor, labels: torch.Tensor | None, classes: list[str], table: list,
           broker: str, store: str | None, runs_dir: str | Path | None, show: bool, **options: Any) -> Watch:
    """The run sent to a split deployment's broker (server/bus/source.py), and recorded in its
    store when one is given, as `convscope trainer` records its own."""
    from ..bus.broker import shown_url
    from ..bus.source import TrainerLink
    from ..runs import Recorder, open_store

    recorder = None
    if store:
        database = open_store(store)
        recorder = Recorder(database, Path(runs_dir) if runs_dir else Settings().runs_dir)
        link = TrainerLink(broker, record=recorder.record, store_problem=lambda: recorder.problem)
    else:
        link = TrainerLink(broker)
    link.start()
    outbox = Outbox(link.events)
    outbox.start()
    viz = Watch(model, probe, labels, classes, table, outbox, link.commands, **options)

    def close() -> None:
        link.close()
        if recorder is not None:
            recorder.close()
            database.close()

    viz.on_close = close
    if show:
        kept = "" if store else " (its history is not recorded: give store= the deployment's database)"
        print(f"convscope.watch: {viz.name} is shown by the web servers of {shown_url(broker)}{kept}",
              file=sys.stderr, flush=True)
    return viz


def announce(page: LocalPage, name: str) -> None:
    """The page's address: printed, and in a notebook the page itself, inline."""
    print(f"convscope.watch: {name} is live at {page.owner_url}", file=sys.stderr, flush=True)
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    if shell is None or "IPKernelApp" not in getattr(shell, "config", {}):
        return
    from IPython.display import HTML, IFrame, display

    # a notebook at http://localhost:8888 and a frame at 127.0.0.1 are two sites: the owner's cookie
    # (SameSite) would not reach the frame
    framed = page.owner_url.replace("http://127.0.0.1:", "http://localhost:", 1)
    display(IFrame(framed, width="100%", height=720),
            HTML(f'<a href="{page.owner_url}" target="_blank" rel="noopener">open {name} in a tab of its own</a>'))


def _rank() -> int:
    """This process's rank under torchrun (or any torch.distributed run); 0 otherwise."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return int(os.environ.get("RANK", "0"))
