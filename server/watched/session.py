"""A watched run: the user's own model and loop, sent to the page as convscope's trainer sends its own.

    viz = Watch(model, probe, labels, classes, layer_table(model, probe), outbox, commands, name="lenet",
                optimizer=opt, control=True)       # convscope.watch() makes one
    viz.log(step, loss=loss, accuracy=acc)      # after each optimizer step, in the user's thread
    viz.evaluate(test_loss=..., test_accuracy=..., predictions=logits, labels=y)
    viz.close()

The Watch speaks the worker's protocol (server/protocol.py, server/messages.py) over two queues:
it puts messages through an Outbox onto the events queue and answers Commands from the commands
queue in a thread of its own, so the page's commands are answered even while the loop is busy or
over. Whatever changes the training (pause, the learning rate, momentum) is done by `log`, between
two steps, in the user's thread, and only when `control` allows it.

Costs: `log` only appends a tuple to a deque (the command thread makes the points and sends them
every SEND_EVERY seconds, in order with every other message), unless a probe is due. Probes (one
image through the model with hooks, filters and gradients) and predictions on the probe images run
in `log` only while someone watches, at most `probe_hz` times a second, and only as long as they
stay under PROBE_SHARE of the user's own time; hooks are attached for the probe alone, and no
tensor is kept past it.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ..messages import Command, Reply, TestSet
from ..protocol import (DatasetInfo, Eval, MetricPoint, ModelChanged, ProbeImage, ProbeSource, RunState, State,
                        Status)
from ..runs.files import new_run_id
from ..worker.outbox import Outbox
from ..worker.predictions import predictions
from .layers import WatchedLayer, evaluating, model_device
from .pixels import ProbeFormat
from .probe import capture, probe_frame

log = logging.getLogger("convscope.watch")

PROBE_SHARE = 0.03  # of the user's own time, at most, spent on probes and predictions
PREDICTIONS_EVERY = 3.0  # seconds between predictions on the probe images
PREDICTED = 16  # probe images predicted, at most
SEND_EVERY = 0.1  # seconds between sends of the points logged
CLOSE_TIMEOUT = 5.0  # seconds close() waits for what the page has not been sent yet
NOT_HERE = "is not for a watched model: the script trains it"
VIEW_ONLY = ("view only: the script did not allow control from the page (convscope.watch(..., "
             "control=True) allows pause, resume, learning rate and momentum)")


class Watch:
    def __init__(self, model: nn.Module, probe: torch.Tensor, labels: torch.Tensor | None, classes: list[str],
                 layers: list[WatchedLayer], outbox: Outbox, commands: Any, *, name: str,
                 optimizer: torch.optim.Optimizer | None = None, control: bool = False, probe_hz: float = 2.0,
                 preprocess: Callable[[Any], torch.Tensor] | None = None, url: str | None = None) -> None:
        self.model, self.layers, self.classes, self.name = model, layers, classes, name
        self.optimizer, self.control, self.probe_hz, self.url = optimizer, control, probe_hz, url
        self.preprocess = preprocess  # a PIL image -> an input, for uploads (None: as the probe images)
        self.on_close: Callable[[], None] = lambda: None  # what else ends with the run (a broker link)
        self.outbox, self.commands = outbox, commands
        self.format = ProbeFormat.of(probe)
        self.probe = probe.detach().cpu()  # (N, C, H, W): the user's own tensors, normalised as they train
        self.labels = [int(v) for v in labels] if labels is not None else None
        self.pixels = self.format.pixels(self.probe)  # (N, H, W, C) uint8, for the page
        self.run_id = new_run_id()
        self.lock = threading.Lock()  # one log or evaluate at a time
        self.status: Status = "training"
        self.message: str | None = None if control else VIEW_ONLY
        self.probe_index, self.viewers = 0, 0
        self.changes: dict[str, float] = {}  # hyperparameters asked for, written at the next log
        self.resumed = threading.Event()
        self.resumed.set()
        self.closed = threading.Event()
        self.step, self.epoch, self.seconds, self.images = 0, 0.0, 0.0, 0
        self.images_per_second = 0.0
        self.batch_size = 0  # the last one logged
        self.last_log: float | None = None
        self.probe_at = 0.0  # perf_counter time after which the next probe may run
        self.predicted_at = -math.inf
        self.probe_wanted = True  # a new viewer or probe image: probe at the next log
        self.warned: set[str] = set()
        self.logged: deque[tuple] = deque()  # the points log() took, not sent yet (appended without a lock)
        self.sending = threading.Lock()  # points and messages leave in order
        self._send(ModelChanged(name=name, spec=[], layers=[layer.row for layer in layers], run_id=self.run_id))
        self._send(TestSet(images=self.pixels, labels=np.array(self.labels or [0] * len(self.probe)),
                                 classes=classes))
        self.publish()
        self.listener = threading.Thread(target=self._listen, name="convscope-watch-commands", daemon=True)
        self.listener.start()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close("error" if exc[0] is not None and not issubclass(exc[0], KeyboardInterrupt) else "finished")

    # -- the user's calls --------------------------------------------------------------------
    def log(self, step: int, loss: float | torch.Tensor | None = None, accuracy: float | torch.Tensor | None = None,
            *, epoch: float | None = None, batch_size: int | None = None) -> None:
        """One training step's numbers (call it after the optimizer's step). Cheap: the point is
        queued and sent in the background; while someone watches, a probe may run here."""
        if self.closed.is_set():
            self._warn("closed", "log() after close() is ignored")
            return
        if not self.lock.acquire(blocking=False):
            self._warn("threads", "log() was called from two threads at once: the second call is skipped")
            return
        try:
            self._log(step, loss, accuracy, epoch, batch_size)
        finally:
            self.lock.release()

    def evaluate(self, test_loss: float | None = None, test_accuracy: float | None = None,
                 predictions: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                 step: int | None = None) -> None:
        """A test evaluation: its loss and accuracy, and, given the predictions (logits or class
        indices) and true labels, the accuracy per class and the confusion matrix."""
        if self.closed.is_set():
            return
        k = len(self.classes)
        confusion = np.zeros((k, k), dtype=np.int64)
        if predictions is not None and labels is not None:
            guessed = torch.as_tensor(predictions).detach().cpu()
            guessed = guessed.argmax(1) if guessed.dim() == 2 else guessed
            truth = torch.as_tensor(labels).detach().cpu().reshape(-1)
            if len(guessed) != len(truth):
                raise ValueError(f"evaluate: {len(guessed)} predictions for {len(truth)} labels")
            np.add.at(confusion, (truth.numpy().astype(int), guessed.numpy().astype(int)), 1)
        counts = confusion.sum(1)
        per_class = [float(confusion[c, c] / n) if n else 0.0 for c, n in enumerate(counts)]
        if test_accuracy is None:
            test_accuracy = float(np.trace(confusion) / counts.sum()) if counts.sum() else math.nan
        self._send(Eval(step=self.step if step is None else step, epoch=self.epoch,
                              loss=_number(test_loss), accuracy=_number(test_accuracy),
                              per_class=per_class, seconds=self.seconds, confusion=confusion.tolist()))

    def close(self, status: Status = "finished") -> None:
        """The run is over: the page says so (and keeps showing it while this process runs)."""
        if self.closed.is_set():
            return
        self.status = status
        self.publish()
        self.closed.set()
        self.resumed.set()
        self.listener.join(2.0)
        self._send()
        self.outbox.close()
        deadline = time.monotonic() + CLOSE_TIMEOUT  # all sent before a next watch on the same page starts
        while self.outbox.pending and time.monotonic() < deadline:
            time.sleep(0.02)
            self.outbox.flush()
        self.on_close()

    # -- a step ------------------------------------------------------------------------------
    def _log(self, step: int, loss: Any, accuracy: Any, epoch: float | None, batch_size: int | None) -> None:
        now = time.perf_counter()
        if self.last_log is not None:
            spent = now - self.last_log
            self.seconds += spent
            if batch_size:
                ips = batch_size / spent if spent > 0 else 0.0
                self.images_per_second = ips if not self.images_per_second else 0.9 * self.images_per_second + 0.1 * ips
        if step <= self.step and self.last_log is not None:
            self._warn("step", f"log() got step {step} after step {self.step}: steps must grow, so it is "
                               f"shown as step {self.step + 1}")
            step = self.step + 1
        self.step, self.images = step, self.images + (batch_size or 0)
        self.batch_size = batch_size or self.batch_size
        self.epoch = float(epoch) if epoch is not None else self.epoch
        loss = _number(loss)
        self.logged.append((step, self.epoch, loss, _number(accuracy), self._lr(), batch_size or 0,
                            self.images_per_second, self.seconds, time.time()))  # made a MetricPoint in _send
        if not math.isfinite(loss) and "nan" not in self.warned:
            told = f"the loss logged at step {step} is {loss}: training has diverged"
            self._warn("nan", told)
            self.message = told if self.control else f"{told}; {VIEW_ONLY}"
            self.publish()
        if self.changes:
            self._write_changes()
        if self.viewers and (self.probe_wanted or now >= self.probe_at):
            self._probe_and_predict(now)
        if not self.resumed.is_set():
            self._wait_while_paused()
        self.last_log = time.perf_counter()  # the probe's and the pause's time are not the user's

    def _probe_and_predict(self, now: float) -> None:
        """A probe frame, and predictions on the probe images when they are due; then the next
        probe waits long enough to keep these under PROBE_SHARE of the user's time."""
        self.probe_wanted = False
        start = time.perf_counter()
        try:
            i = self.probe_index
            label = self.labels[i] if self.labels is not None else None
            captured = capture(self.model, self.layers, self.probe[i:i + 1], target=label)
            self.outbox.frame(probe_frame(self.layers, captured, self.pixels[i], self.step,
                                          ProbeSource(source="test", index=i)))
            if self.labels is not None and start - self.predicted_at >= PREDICTIONS_EVERY:
                self.predicted_at = start
                self._predict()
        except Exception as e:  # never the user's training: say why, and stop probing
            self._warn("probe", f"probing the model failed, so the page shows no layer maps: {e!r}")
            self.viewers = 0
            return
        took = time.perf_counter() - start
        self.probe_at = time.perf_counter() + max(1.0 / self.probe_hz, took / PROBE_SHARE)

    def _predict(self) -> None:
        shown = list(range(min(PREDICTED, len(self.probe))))
        with evaluating(self.model), torch.no_grad():
            probs = self.model(self.probe[shown].to(model_device(self.model))).float().softmax(1).cpu()
        self._send(predictions(probs, shown, np.array(self.labels), self.classes, self.step))

    def _wait_while_paused(self) -> None:
        self.status = "paused"
        self.publish()
        while not self.resumed.wait(0.1):
            if self.changes:
                self._write_changes()
            if self.viewers and self.probe_wanted:  # a new probe image chosen while paused
                self._probe_and_predict(time.perf_counter())
        if not self.closed.is_set():
            self.status = "training"
            self.publish()

    # -- the optimizer -----------------------------------------------------------------------
    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"]) if self.optimizer is not None else 0.0

    def _momentum(self) -> float | None:
        if self.optimizer is None:
            return None
        group = self.optimizer.param_groups[0]
        return float(group["momentum"]) if "momentum" in group else float(group["betas"][0]) if "betas" in group else None

    def _write_changes(self) -> None:
        """The page's learning rate and momentum, into every parameter group (between two steps)."""
        changes, self.changes = self.changes, {}
        for group in self.optimizer.param_groups:
            if "lr" in changes:
                group["lr"] = changes["lr"]
            if "momentum" in changes:
                if "momentum" in group:
                    group["momentum"] = changes["momentum"]
                else:
                    group["betas"] = (changes["momentum"], *group["betas"][1:])
        self.publish()

    # -- the page's commands (the listener thread) ------------------------------------------
    def _listen(self) -> None:
        while not self.closed.is_set():
            try:
                command: Command = self.commands.get(timeout=SEND_EVERY)
            except queue.Empty:
                self._send()  # the points logged meanwhile
                continue
            try:
                ok, message = self._command(command)
            except (ValueError, TypeError) as e:
                ok, message = False, str(e)
            self._send(Reply(command.id, ok, message, self.run_state()))

    def _command(self, command: Command) -> tuple[bool, str]:
        kind, args = command.kind, command.args
        if kind == "viewers":
            self.viewers = int(args["count"])
            self.probe_wanted = True
            return True, f"{self.viewers} watching"
        if kind == "classifying":
            return True, "classifying"
        if kind == "probe":
            index = int(args["index"])
            if not 0 <= index < len(self.probe):
                raise ValueError(f"there are {len(self.probe)} probe images: choose 0 to {len(self.probe) - 1}")
            self.probe_index, self.probe_wanted = index, True
            self.publish()
            return True, f"probing image {index}"
        if kind not in ("pause", "resume", "hyperparams"):
            return False, f"{kind} {NOT_HERE}"
        if not self.control:
            return False, VIEW_ONLY
        if self.closed.is_set():
            return False, "the run is over: the script closed it"
        if kind == "pause":
            self.resumed.clear()
            return True, "paused: the script waits in its next log()"
        if kind == "resume":
            self.resumed.set()
            return True, "resumed"
        return self._hyperparams(args)

    def _hyperparams(self, changes: dict[str, Any]) -> tuple[bool, str]:
        if self.optimizer is None:
            return False, "no optimizer was given to convscope.watch(optimizer=...): nothing to change"
        other = sorted(set(changes) - {"lr", "momentum"})
        if other:
            return False, f"only the learning rate and momentum of a watched model can change, not {', '.join(other)}"
        if "momentum" in changes and self._momentum() is None:
            return False, f"{type(self.optimizer).__name__} has no momentum"
        for field, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{field} must be a number")
            if field == "lr" and not value > 0 or field == "momentum" and not 0 <= value < 1:
                raise ValueError("the learning rate must be above 0" if field == "lr" else "momentum must be in [0, 1)")
        self.changes = {**self.changes, **{k: float(v) for k, v in changes.items()}}
        return True, "changed: written into the optimizer before the next step"

    # -- what the page is told ---------------------------------------------------------------
    def run_state(self) -> RunState:
        config: dict[str, Any] = {"batch_size": self.batch_size} if self.batch_size else {}
        if self.optimizer is not None:
            config["optimizer"] = type(self.optimizer).__name__.lower()
            config["lr"] = self.changes.get("lr", self._lr())
            if (momentum := self._momentum()) is not None:
                config["momentum"] = self.changes.get("momentum", momentum)
        _, channels, height, width = self.probe.shape
        label = self.labels[self.probe_index] if self.labels is not None else None
        status = self.status
        if status in ("training", "paused") and not self.closed.is_set():  # as asked: the loop follows at its next log
            status = "training" if self.resumed.is_set() else "paused"
        return RunState(
            status=status, model=self.name, config=config, step=self.step, epoch=self.epoch,
            images_seen=self.images, seconds=self.seconds, images_per_second=self.images_per_second,
            message=self.message, device=str(model_device(self.model)), precision="fp32", control=self.control,
            source="watch", probe=ProbeImage(index=self.probe_index, label=self.classes[label] if label is not None else "?"),
            dataset=DatasetInfo(source=f"convscope.watch: {self.name}", train_size=0, test_size=len(self.probe),
                                channels=channels, height=height, width=width, classes=self.classes),
            run_id=self.run_id)

    def _send(self, message: Any = None) -> None:
        """The points logged so far, then `message` if given, in that order whichever thread sends."""
        with self.sending:
            if self.logged:
                points = []
                while self.logged:
                    step, epoch, loss, accuracy, lr, batch, ips, seconds, when = self.logged.popleft()
                    points.append(MetricPoint(step=step, epoch=epoch, loss=loss, accuracy=accuracy, lr=lr,
                                              batch_size=batch, images_per_second=ips, seconds=seconds, time=when))
                self.outbox.metrics(points)
            if message is not None:
                self.outbox.send(message)

    def publish(self) -> None:
        self._send(State(run=self.run_state()))

    def _warn(self, what: str, message: str) -> None:
        if what not in self.warned:
            self.warned.add(what)
            log.warning("convscope.watch: %s", message)


def _number(value: Any) -> float:
    """A float from a number or a one-element tensor; None: not logged (NaN)."""
    if value is None:
        return math.nan
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
