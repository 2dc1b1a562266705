"""The training loop as a library: the CLI and the live server's worker both drive a Trainer.

    trainer = Trainer(spec, dataset, TrainConfig(epochs=5))
    trainer.fit(on_step=print)          # or call trainer.step() / trainer.evaluate() yourself

Between steps `fit` takes commands (pause, resume, step, stop, update hyperparameters) from a
callable, so a worker process can feed it from a queue without the loop ever waiting on it
unless paused.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F

from ..data import Dataset
from ..models import build_model, init_whitening, validate, with_input
from .batches import TrainBatches, eval_batches
from .config import TrainConfig
from .device import Precision, auto_precision, keep_freed_memory, resolve_device
from .inputs import InputFormat
from .optim import apply_hyperparams, decay_weights, lr_factor, make_optimizer
from .recipe import Lookahead, init_weights, set_batchnorm, train_whiten_biases
from .tta import tta_logits

TRAIN_HISTORY_MAX = 20_000  # step records kept; past this, every other one is dropped (a live
                            # run of hours stays a few MB in memory and in its checkpoints)
LIVE_CHANGES = frozenset({"lr", "momentum", "nesterov", "weight_decay", "batch_size", "optimizer",
                          "schedule", "warmup", "label_smoothing", "crop_pad", "flip", "cutout",
                          "epochs", "eval_every", "flip_tta"})


@dataclass
class StepMetrics:
    step: int  # steps done so far, this one included
    epoch: float  # passes over the training set so far
    loss: float  # training loss of this batch
    accuracy: float  # training accuracy of this batch (augmented images)
    lr: float  # learning rate used for this step
    batch_size: int
    images_per_second: float  # this step's throughput
    seconds: float  # training time so far (pauses and evaluation excluded)


@dataclass
class EvalMetrics:
    step: int
    epoch: float
    loss: float
    accuracy: float
    per_class: list[float]  # accuracy of each class
    confusion: list[list[int]]  # confusion[true][predicted], counts
    seconds: float  # training time so far when evaluated


@dataclass
class Command:
    """One instruction for a running fit(): pause, resume, step (one, while paused), stop, update."""
    kind: Literal["pause", "resume", "step", "stop", "update"]
    changes: dict[str, Any] = field(default_factory=dict)


class Trainer:
    """Owns a model, its optimiser and the data on the device; trains one step at a time."""

    def __init__(self, spec: list[dict], dataset: Dataset, config: TrainConfig,
                 device: str | torch.device = "auto") -> None:
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        if self.device.type == "cpu":
            keep_freed_memory()
        self.dataset = dataset
        self.classes = list(dataset.classes)
        self.config = config
        self.input_format = InputFormat.of(dataset.train_images, normalized=config.normalize)
        fmt = self.input_format
        self.spec = validate(with_input(spec, (fmt.channels, fmt.height, fmt.width)), num_classes=len(self.classes))
        torch.manual_seed(config.seed)
        self.train_images = fmt.to_tensor(dataset.train_images, self.device)
        self.train_labels = torch.from_numpy(dataset.train_labels).to(self.device)
        self.test_images = fmt.to_tensor(dataset.test_images, self.device)
        self.test_labels = torch.from_numpy(dataset.test_labels).to(self.device)
        self.model = build_model(self.spec, num_classes=len(self.classes)).to(self.device)
        init_weights(self.model, config.init)
        set_batchnorm(self.model, config)
        if any(layer["type"] == "whiten" for layer in self.spec):
            init_whitening(self.model, self.train_images[:5000])
        train_whiten_biases(self.model, config.whiten_bias_epochs > 0)
        self.batches = TrainBatches(self.train_images, self.train_labels, seed=config.seed, flips=dataset.flips)
        self.optimizer = make_optimizer(self.model, config)
        self.step_count = 0
        self.images_seen = 0
        self.train_seconds = 0.0
        self.history: dict[str, list[dict]] = {"train": [], "test": []}
        self._apply_memory_format()
        self.lookahead = Lookahead(self.model) if config.lookahead else None  # (after the move above)
        # fp16's narrow range: the loss is scaled up for backward and the step skipped on overflow
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")

    # -- state -----------------------------------------------------------------------------
    @property
    def epoch(self) -> float:
        return self.images_seen / len(self.batches)

    @property
    def progress(self) -> float:
        """Fraction of the configured run done (drives the learning-rate schedule)."""
        return self.epoch / self.config.epochs

    @property
    def finished(self) -> bool:
        return self.progress >= 1.0

    @property
    def precision(self) -> Precision:
        """What the steps compute in: the config's choice, or auto's for this device."""
        p = self.config.precision
        return auto_precision(self.device) if p == "auto" else p

    def current_lr(self) -> float:
        return self.config.lr * lr_factor(self.progress, self.config)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _apply_memory_format(self) -> None:
        fmt = torch.channels_last if self.config.channels_last else torch.contiguous_format
        self.model.to(memory_format=fmt)
        self.train_images = self.train_images.contiguous(memory_format=fmt)
        self.test_images = self.test_images.contiguous(memory_format=fmt)
        self.batches.images = self.train_images

    # -- commands --------------------------------------------------------------------------
    def update(self, **changes: Any) -> TrainConfig:
        """Change hyperparameters between steps; raises ValueError (nothing changed) when bad."""
        fixed = set(changes) - LIVE_CHANGES
        if fixed:
            raise ValueError(f"cannot change {', '.join(sorted(fixed))} while training; "
                             f"start a new run instead")
        new = self.config.replace(**changes)
        if new.optimizer != self.config.optimizer:
            self.optimizer = make_optimizer(self.model, new)
        self.config = new
        apply_hyperparams(self.optimizer, new, self.current_lr())
        return new

    # -- training --------------------------------------------------------------------------
    def step(self) -> StepMetrics:
        """One optimisation step on the next batch."""
        cfg = self.config
        start = time.perf_counter()
        lr = self.current_lr()
        apply_hyperparams(self.optimizer, cfg, lr)
        self.model.train()
        x, y = self.batches.next(cfg.batch_size, cfg)
        with self._autocast():
            logits = self.model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        decay_weights(self.optimizer)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        correct = (logits.argmax(1) == y).sum()
        loss_value, accuracy = loss.item(), correct.item() / len(y)  # the one sync per step
        self.step_count += 1
        self.images_seen += len(y)
        if self.lookahead:
            self.lookahead.after_step(self.step_count, self.progress)
        if cfg.whiten_bias_epochs and self.epoch >= cfg.whiten_bias_epochs:
            train_whiten_biases(self.model, False)
        seconds = time.perf_counter() - start
        self.train_seconds += seconds
        metrics = StepMetrics(step=self.step_count, epoch=self.epoch, loss=loss_value,
                              accuracy=accuracy, lr=lr, batch_size=len(y),
                              images_per_second=len(y) / seconds, seconds=self.train_seconds)
        train_history = self.history["train"]
        train_history.append(vars(metrics).copy())
        if len(train_history) > TRAIN_HISTORY_MAX:
            del train_history[-2::-2]  # every other record, the newest kept
        return metrics

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities (N, classes) for normalised images, with the test-time augmentation
        configured (flip_tta, tta_shift)."""
        self.model.eval()
        cfg = self.config
        with self._autocast():
            logits = tta_logits(self.model, images, flip=cfg.flip_tta and self.batches.flips,
                                shift=cfg.tta_shift)
        return logits.softmax(1)

    def evaluate(self) -> EvalMetrics:
        """Loss, accuracy, per-class accuracy and confusion matrix on the whole test set."""
        n = len(self.classes)
        confusion = torch.zeros(n, n, dtype=torch.long, device=self.device)
        total_loss = 0.0
        predicted = []
        for x, y in eval_batches(self.test_images, self.test_labels):
            probs = self.predict(x)
            total_loss += F.nll_loss(probs.clamp_min(1e-12).log(), y, reduction="sum").item()
            predicted.append(probs.argmax(1))
            confusion += torch.bincount(y * n + predicted[-1], minlength=n * n).view(n, n)
        self.test_predictions = torch.cat(predicted).to(torch.int16).cpu().numpy()  # (M,) class given
        confusion_list = confusion.tolist()
        counts = [max(sum(row), 1) for row in confusion_list]
        metrics = EvalMetrics(
            step=self.step_count, epoch=self.epoch,
            loss=total_loss / len(self.test_labels),
            accuracy=sum(confusion_list[i][i] for i in range(n)) / len(self.test_labels),
            per_class=[confusion_list[i][i] / counts[i] for i in range(n)],
            confusion=confusion_list, seconds=self.train_seconds)
        self.history["test"].append({k: v for k, v in vars(metrics).items() if k != "confusion"})
        return metrics

    def fit(self, *, commands: Callable[[bool], Iterable[Command]] | None = None,
            on_step: Callable[["Trainer", StepMetrics], None] | None = None,
            on_eval: Callable[["Trainer", EvalMetrics], None] | None = None) -> EvalMetrics | None:
        """Train until the configured epochs are done or a stop command arrives.

        commands(paused) is called between steps and returns the commands that arrived; with
        paused=True it may block until one does. Evaluates every cfg.eval_every epochs and at
        the end; returns the last evaluation (None when stopped before any).
        """
        paused = False
        last: EvalMetrics | None = None
        next_eval = (int(self.epoch / self.config.eval_every) + 1) * self.config.eval_every
        while not self.finished:
            run_one = False
            for command in (commands(paused) if commands else ()):
                if command.kind == "stop":
                    return last
                if command.kind == "update":
                    self.update(**command.changes)
                    next_eval = (int(self.epoch / self.config.eval_every) + 1) * self.config.eval_every
                paused = {"pause": True, "resume": False}.get(command.kind, paused)
                run_one = run_one or command.kind == "step"
            if paused and not run_one:
                continue
            metrics = self.step()
            if on_step:
                on_step(self, metrics)
            if self.epoch >= next_eval - 1e-9 and not self.finished:
                last = self.evaluate()
                next_eval += self.config.eval_every
                if on_eval:
                    on_eval(self, last)
        last = self.evaluate()
        if on_eval:
            on_eval(self, last)
        return last
