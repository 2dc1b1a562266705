"""The worker process: owns the data, the Trainer and the probes, and answers commands.

    main(options, commands, events)     # the target of the spawned process (see process.py)

It loads the data (reporting progress as state), then drives Trainer.fit, taking commands
between steps. Metrics go out through the Outbox; while someone watches, a probe frame goes out
at most options.probe_hz times a second and example predictions every few seconds.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..data import DataError, Dataset, load_dataset
from ..models import SpecError, get_preset
from ..protocol import (DataProgress, DatasetInfo, Error, Eval, MetricPoint, ModelChanged, ProbeImage,
                        ProbeSource, RunState, State)
from ..runs import checkpoint_path, new_run_id, read_run_name, write_run_name
from ..summary import summarize
from ..train import Command as FitCommand
from ..train import (Checkpoint, CheckpointError, DeviceError, EvalMetrics, StepMetrics, TrainConfig, Trainer,
                     load_checkpoint, restore, save_checkpoint)
from ..train import resolve_device
from ..train.divergence import DivergenceWatch
from .feed import ClassifierFeed
from ..messages import Command, Reply, Saved, TestPredictions, TestSet, TrainSet
from .outbox import Outbox
from .predictions import predictions, sample
from ..probes import probe

IDLE_WAIT = 0.05  # seconds to wait for a command while paused or idle
PARENT_CHECK = 1.0  # seconds between checks that the server still runs
PROBE_SHARE = 0.03  # probes and predictions may take at most this fraction of the time


@dataclass(frozen=True)
class WorkerOptions:
    """What the worker trains and how it reports: app.worker_options fills it from the Settings."""
    name: str  # the model's name: a preset's, or the spec's
    spec: list[dict]
    data: str | None  # as for load_dataset; None downloads CIFAR-10 once
    device: str
    probe_hz: float  # probe frames per second, at most
    predictions_every: float  # seconds between example predictions
    runs_dir: str | None  # each run's checkpoint goes to runs_dir/<run id>/; None: none are saved
    checkpoint_every: float  # seconds between checkpoints
    recipe: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides
    resume: str | None = None  # the run to go on with at start (from its checkpoint); None: a new run


@contextmanager
def one_thread() -> Iterator[None]:
    """Run small work (a probe, eight predictions) on one CPU thread.

    Split over torch's thread pool, each of its ~100 tiny ops waits for every thread to be
    scheduled: on a busy 2-core machine a probe took 300 ms that way, and 2.5 ms on one thread.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def main(options: WorkerOptions, commands: Any, events: Any) -> None:
    """Run a session until a stop command arrives or the server is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    outbox = Outbox(events)
    outbox.start()
    Session(options, commands, outbox).run()
    outbox.close()


class Session:
    def __init__(self, options: WorkerOptions, commands: Any, outbox: Outbox) -> None:
        self.options, self.commands, self.outbox = options, commands, outbox
        self.name, self.spec = options.name, options.spec
        self.run_id: str | None = None
        self.to_resume = options.resume  # used by the first load only
        self.config = TrainConfig().replace(**options.recipe)
        self.dataset: Dataset | None = None
        self.trainer: Trainer | None = None
        self.device = "cpu"
        self.status, self.message = "loading", None
        self.progress: DataProgress | None = None
        self.images_per_second = 0.0
        self.viewers = 0
        self.probe_index = 0
        self.sample: list[int] = []
        self.version = 0  # bumped whenever what a probe would show changes
        self.probed = self.predicted = -1  # the version last probed / predicted
        self.next_probe = self.next_predictions = self.next_parent_check = 0.0
        self.next_checkpoint = time.monotonic() + options.checkpoint_every
        self.fit_first: list[FitCommand] = []  # a new fit starts unpaused: re-pause it
        self.divergence = DivergenceWatch(num_classes=10)  # NaN or exploding loss pauses the run
        self.stopping = False
        self.feed = ClassifierFeed(outbox)  # weights and feature index for the server's classifier

    # -- the main loop ----------------------------------------------------------------------
    def run(self) -> None:
        self.load()
        while not self.stopping:
            if self.status in ("training", "paused"):
                self.fit()
            else:
                self.poll(paused=True)

    def load(self) -> None:
        """Load the data and start training the configured model; status "error" on failure."""
        self.status, self.message = "loading", None
        self.publish()
        try:
            self.device = str(resolve_device(self.options.device))
            dataset = load_dataset(self.options.data, progress=self.on_progress)
        except (DataError, DeviceError) as e:
            return self.fail(str(e))
        self.dataset, self.progress = dataset, None
        self.sample = sample(dataset.test_labels)
        self.outbox.send(TestSet(dataset.test_images, dataset.test_labels, list(dataset.classes)))
        self.outbox.send(TrainSet(dataset.train_images, dataset.train_labels))
        resume, self.to_resume = self.to_resume, None
        if resume and self.open(resume) is None:
            return
        problem = self.start(self.name, self.spec, self.config)
        if problem:
            self.fail(problem)

    # -- checkpoints (options.runs_dir) -----------------------------------------------------
    def open(self, run_id: str) -> str | None:
        """Go on with a run from its checkpoint; returns why it cannot, or None.

        A checkpoint that is damaged or does not fit is set aside (renamed .damaged, never trusted
        again) and reported."""
        if not self.options.runs_dir:
            return "runs are not kept (no runs folder)"
        path = checkpoint_path(Path(self.options.runs_dir), run_id)
        if not path.exists():
            return f"run {run_id} has no checkpoint to go on from"
        try:
            checkpoint = load_checkpoint(path)
            name = read_run_name(Path(self.options.runs_dir), run_id)
        except (CheckpointError, OSError, ValueError, KeyError, TypeError) as e:
            return self.distrust(path, f"the checkpoint of run {run_id} cannot be used ({e})")
        problem = self.start(name, checkpoint.spec, checkpoint.config, run_id, checkpoint)
        if problem:
            return self.distrust(path, f"the checkpoint of run {run_id} cannot be used ({problem})")
        return None

    def distrust(self, path: Path, message: str) -> str:
        """Set a damaged or unusable checkpoint aside and report it; returns the report."""
        path.replace(path.with_suffix(".damaged"))
        message = f"{message}; it was renamed {path.with_suffix('.damaged').name}"
        self.outbox.send(Error(message=message))
        return message

    def save(self) -> None:
        """Write the run's checkpoint (atomically) and its name beside it."""
        if not self.options.runs_dir or self.trainer is None or self.status not in ("training", "paused", "finished"):
            return
        runs_dir = Path(self.options.runs_dir)
        path = checkpoint_path(runs_dir, self.run_id)
        try:
            save_checkpoint(self.trainer, path)
            write_run_name(runs_dir, self.run_id, self.name, self.trainer.step_count)
        except (OSError, RuntimeError) as e:
            self.outbox.send(Error(message=f"could not save the checkpoint {path}: {e}"))
            return
        self.outbox.send(Saved(self.run_id, self.trainer.step_count))

    def start(self, name: str, spec: list, config: TrainConfig, run_id: str | None = None,
              checkpoint: Checkpoint | None = None) -> str | None:
        """Train a network: a new run, or `run_id` from its checkpoint; returns what went wrong, or None."""
        try:
            trainer = Trainer(spec, self.dataset, config, device=self.device)
            if checkpoint is not None:
                restore(trainer, checkpoint)
        except (SpecError, ValueError, DeviceError, RuntimeError, KeyError) as e:
            return f"cannot build {name}: {str(e)[:300]}"
        self.save()  # the run it replaces keeps everything up to now
        self.trainer, self.name, self.spec, self.config = trainer, name, trainer.spec, config
        self.run_id = run_id or new_run_id()
        self.next_checkpoint = time.monotonic() + self.options.checkpoint_every
        self.feed.restart()
        self.status, self.images_per_second = "training", 0.0
        self.message = f"resumed from the checkpoint at step {checkpoint.step}" if checkpoint else None
        self.divergence = DivergenceWatch(num_classes=len(trainer.classes))
        self.version += 1
        self.next_probe = self.next_predictions = 0.0
        summary = summarize(name, trainer.spec, len(trainer.classes))
        self.outbox.send(ModelChanged(name=name, spec=summary.spec, layers=summary.layers, run_id=self.run_id,
                                      resumed_step=checkpoint.step if checkpoint else None))
        self.publish()
        if checkpoint is None:
            self.save()  # from its first step on, a crash resumes this run, not the one before
        return None

    def fit(self) -> None:
        trainer = self.trainer
        self.fit_first = [FitCommand("pause")] if self.status == "paused" else []
        try:
            trainer.fit(commands=self.poll, on_step=self.on_step, on_eval=self.on_eval)
        except Exception as e:  # keep the worker up: the run fails, the server and page stay
            traceback.print_exc()
            self.outbox.send(Error(message=f"training failed: {type(e).__name__}: {e}"))
            return self.fail(f"training failed: {type(e).__name__}: {e}")
        if self.trainer is trainer and trainer.finished and not self.stopping:
            self.status = "finished"
            self.message = f"finished {trainer.config.epochs:g} epochs: reset or switch the model"
            self.version += 1
            self.publish()

    def fail(self, message: str) -> None:
        self.status, self.message = "error", message
        self.publish()

    # -- between steps ----------------------------------------------------------------------
    def poll(self, paused: bool) -> list[FitCommand]:
        """Trainer.fit's command source: carries out what arrived; probes when due."""
        self.periodic()
        out, self.fit_first = self.fit_first, []
        for command in self.receive(IDLE_WAIT if paused else 0.0):
            out += self.handle(command)
        if self.stopping:
            out.append(FitCommand("stop"))
        return out

    def receive(self, timeout: float) -> list[Command]:
        try:
            got = [self.commands.get(timeout=timeout) if timeout else self.commands.get_nowait()]
        except queue.Empty:
            return []
        while True:
            try:
                got.append(self.commands.get_nowait())
            except queue.Empty:
                return got

    def periodic(self) -> None:
        """Between steps: check on the server; probe and predict when due and someone watches."""
        now = time.monotonic()
        if now >= self.next_parent_check:
            self.next_parent_check = now + PARENT_CHECK
            parent = multiprocessing.parent_process()
            self.stopping |= parent is not None and not parent.is_alive()
        if now >= self.next_checkpoint:
            self.next_checkpoint = now + self.options.checkpoint_every
            self.save()
        if self.trainer is not None:
            self.feed.tick(self.trainer, self.name, now, watched=self.viewers > 0,
                           training=self.status == "training")
        if self.trainer is not None and self.viewers > 0:
            if now >= self.next_probe and self.probed != self.version:
                self.probed = self.version
                self.next_probe = now + max(1 / self.options.probe_hz, self.send_probe() / PROBE_SHARE)
            if now >= self.next_predictions and self.predicted != self.version:
                self.predicted = self.version
                self.next_predictions = now + max(self.options.predictions_every,
                                                  self.send_predictions() / PROBE_SHARE)

    def on_step(self, trainer: Trainer, m: StepMetrics) -> None:
        ips = self.images_per_second
        self.images_per_second = m.images_per_second if not ips else 0.9 * ips + 0.1 * m.images_per_second
        self.outbox.metric(MetricPoint(**vars(m), time=time.time()))
        self.version += 1
        if self.status == "paused":  # a single step: show its effect at once
            self.next_probe = self.next_predictions = 0.0
        problem = self.divergence.update(m.loss, m.step)
        if problem and self.status == "training":
            self.status, self.message = "paused", problem
            self.fit_first.append(FitCommand("pause"))  # poll hands it to fit before the next step
            self.outbox.send(Error(message=problem))
            self.publish()

    def on_eval(self, trainer: Trainer, m: EvalMetrics) -> None:
        self.outbox.send(Eval(**vars(m)))
        if getattr(trainer, "test_predictions", None) is not None:
            self.outbox.send(TestPredictions(m.step, trainer.test_predictions))
        self.publish()

    def on_progress(self, stage: str, done: int, total: int) -> None:
        parent = multiprocessing.parent_process()
        if parent is not None and not parent.is_alive():
            raise SystemExit(0)
        self.progress = DataProgress(stage=stage, done=done, total=total)
        self.publish()

    # -- what goes out ----------------------------------------------------------------------
    def run_state(self) -> RunState:
        t = self.trainer
        probe_image = dataset = None
        if (d := self.dataset) is not None:
            probe_image = ProbeImage(index=self.probe_index, label=d.classes[d.test_labels[self.probe_index]])
            _, height, width, channels = d.test_images.shape
            dataset = DatasetInfo(source=d.source, train_size=len(d.train_labels), test_size=len(d.test_labels),
                                  channels=channels, height=height, width=width, classes=list(d.classes))
        return RunState(
            status=self.status, model=self.name, config=(t.config if t else self.config).to_dict(),
            step=t.step_count if t else 0, epoch=t.epoch if t else 0.0,
            images_seen=t.images_seen if t else 0, seconds=t.train_seconds if t else 0.0,
            images_per_second=self.images_per_second, message=self.message,
            data_progress=self.progress, device=self.device,
            precision=t.precision if t else "fp32", probe=probe_image,
            dataset=dataset, run_id=self.run_id)

    def publish(self) -> None:
        self.outbox.send(State(run=self.run_state()))

    def send_probe(self) -> float:
        """Probe the probe image; returns the seconds it took."""
        start, t, i = time.monotonic(), self.trainer, self.probe_index
        with one_thread():
            frame = probe(t.model, t.test_images[i:i + 1], self.dataset.test_images[i],
                          int(self.dataset.test_labels[i]), t.step_count, ProbeSource(source="test", index=i))
        self.outbox.frame(frame)
        return time.monotonic() - start

    def send_predictions(self) -> float:
        """Predict the sample of test images; returns the seconds it took."""
        start, t = time.monotonic(), self.trainer
        with one_thread():
            probs = t.predict(t.test_images[self.sample])
        self.outbox.send(predictions(probs, self.sample, self.dataset.test_labels, t.classes,
                                     t.step_count))
        return time.monotonic() - start

    # -- commands ---------------------------------------------------------------------------
    def handle(self, command: Command) -> list[FitCommand]:
        """Carry out one command and answer it; returns what Trainer.fit must do."""
        try:
            ok, message, fit = getattr(self, f"do_{command.kind}")(**command.args)
        except (ValueError, TypeError, OSError) as e:
            ok, message, fit = False, str(e), []
        self.outbox.send(Reply(command.id, ok, message, self.run_state()))
        return fit

    def do_pause(self) -> tuple[bool, str, list[FitCommand]]:
        if self.status != "training":
            return False, f"nothing to pause: the run is {self.status}", []
        self.status = "paused"
        self.publish()
        return True, "paused", [FitCommand("pause")]

    def do_resume(self) -> tuple[bool, str, list[FitCommand]]:
        if self.status != "paused":
            return False, f"nothing to resume: the run is {self.status}", []
        self.status, self.message = "training", None
        self.divergence.reset()  # judged afresh (a lower learning rate may save it)
        self.publish()
        return True, "resumed", [FitCommand("resume")]

    def do_step(self) -> tuple[bool, str, list[FitCommand]]:
        if self.status != "paused":
            return False, f"single steps need a paused run; the run is {self.status}", []
        return True, "one step", [FitCommand("step")]

    def do_reset(self) -> tuple[bool, str, list[FitCommand]]:
        return self.restart(self.name, self.spec, self.config, "started over")

    def do_model(self, name: str | None = None, spec: list | None = None) -> tuple[bool, str, list[FitCommand]]:
        if spec is None:
            preset = get_preset(name)
            name, spec, config = preset.name, preset.spec, TrainConfig().replace(**preset.recipe)
        else:
            name, config = name or "custom", self.config
        return self.restart(name, spec, config, f"training {name}")

    def restart(self, name: str, spec: list, config: TrainConfig,
                done: str) -> tuple[bool, str, list[FitCommand]]:
        """A fresh run; without data (it failed to load) this loads it again first."""
        if self.dataset is None:
            self.name, self.spec, self.config = name, spec, config
            self.load()
            return self.status != "error", self.message or done, []
        problem = self.start(name, spec, config)
        return (False, problem, []) if problem else (True, done, [FitCommand("stop")])

    def do_hyperparams(self, **changes: Any) -> tuple[bool, str, list[FitCommand]]:
        if self.trainer is None:
            self.config = self.config.replace(**changes)
        else:
            self.config = self.trainer.update(**changes)
            if self.status == "finished" and not self.trainer.finished:
                self.status, self.message = "training", None
        self.publish()
        # fit applies them again (a no-op) so that it also reschedules its next evaluation
        return True, ", ".join(f"{k} {v}" for k, v in changes.items()), [FitCommand("update", changes)]

    def do_probe(self, index: int) -> tuple[bool, str, list[FitCommand]]:
        if self.dataset is None or not 0 <= index < len(self.dataset.test_labels):
            return False, f"no test image {index}", []
        self.probe_index, self.next_probe = index, 0.0
        self.version += 1
        self.publish()
        return True, f"probing test image {index}", []

    def do_checkpoint(self, path: str) -> tuple[bool, str, list[FitCommand]]:
        if self.trainer is None:
            return False, f"no model to save: the run is {self.status}", []
        runs_dir = Path(self.options.runs_dir or ".").resolve()
        if not self.options.runs_dir or not Path(path).resolve().is_relative_to(runs_dir):
            return False, "checkpoints are written inside the runs folder only", []
        save_checkpoint(self.trainer, path)
        return True, f"saved step {self.trainer.step_count}", []

    def do_open(self, run_id: str) -> tuple[bool, str, list[FitCommand]]:
        """Go on with a kept run (the runs list's resume, or an uploaded checkpoint)."""
        if self.dataset is None:
            return False, f"no data to train on: the run is {self.status}", []
        problem = self.open(run_id)
        return (False, problem, []) if problem else (True, f"resumed run {run_id}", [FitCommand("stop")])

    def do_viewers(self, count: int) -> tuple[bool, str, list[FitCommand]]:
        if count > 0 and self.viewers == 0:
            self.next_probe = self.next_predictions = 0.0
            self.version += 1
        self.viewers = count
        return True, f"{count} watching", []

    def do_classifying(self) -> tuple[bool, str, list[FitCommand]]:
        self.feed.want(time.monotonic())  # keep the feature index up for a while
        return True, "noted", []

    def do_stop(self) -> tuple[bool, str, list[FitCommand]]:
        self.save()  # on shutdown: nothing is lost
        self.stopping = True
        return True, "stopping", [FitCommand("stop")]

