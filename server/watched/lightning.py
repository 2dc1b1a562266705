"""convscope.watch for PyTorch Lightning: a Callback that shows a Trainer's fit on the live page.

    from convscope.watched.lightning import ConvscopeCallback
    trainer = L.Trainer(callbacks=[ConvscopeCallback(probe=x[:16], labels=y[:16], classes=names)])
    trainer.fit(module, train_loader, val_loader)

Importing this module imports Lightning (lightning.pytorch, else pytorch_lightning); convscope
itself never does. On fit start, rank 0 (trainer.is_global_zero) calls convscope.watch with the
LightningModule as the model and trainer.optimizers[0] as the optimizer; the other ranks do
nothing. Each optimizer step is logged as trainer.global_step, each validation (not the sanity
check) as an evaluation, and the run is closed when the fit ends or fails. docs/watch.md says which
of trainer.callback_metrics' keys are read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

try:
    from lightning.pytorch import Callback, LightningModule, Trainer
except ImportError:
    try:
        from pytorch_lightning import Callback, LightningModule, Trainer
    except ImportError as e:
        raise ImportError("convscope.watched.lightning needs PyTorch Lightning: pip install lightning") from e

from .layers import first_tensor
from .session import Watch
from .start import Idle, watch

log = logging.getLogger("convscope.watch")


class ConvscopeCallback(Callback):
    """Shows the fit of the LightningModule it is given to, live, as convscope.watch shows a loop.

    probe, labels, classes: as convscope.watch takes them (the probe goes through pl_module(x), so
    the module's forward must take a batch and return class scores). watch_options: any other
    option of convscope.watch (control, layers, port, broker, ...); `optimizer` and `name` default
    to trainer.optimizers[0] and the module's class name. `viz` is the Watch while the fit runs."""

    TRAIN_ACCURACY = ("train_acc", "acc")  # callback_metrics keys for the training accuracy, first found
    VAL_LOSS = ("val_loss",)  # ... for an evaluation's loss
    VAL_ACCURACY = ("val_acc",)  # ... and its accuracy

    def __init__(self, probe: torch.Tensor, labels: Sequence[int] | torch.Tensor | None = None,
                 classes: Sequence[str] | None = None, **watch_options: Any) -> None:
        super().__init__()
        self.probe, self.labels, self.classes, self.options = probe, labels, classes, watch_options
        self.viz: Watch | Idle | None = None
        self.last_step = 0  # the newest global_step logged
        self.warned = False

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        if type(pl_module).forward is LightningModule.forward:
            raise TypeError(f"ConvscopeCallback runs the probe through {type(pl_module).__name__}(x), but it has no "
                            "forward(): define forward(self, x) to return the class scores")
        options = {"optimizer": trainer.optimizers[0] if trainer.optimizers else None,
                   "name": type(pl_module).__name__, **self.options}
        self.viz = watch(pl_module, self.probe, self.labels, self.classes, **options)
        self.last_step = trainer.global_step  # resumed from a checkpoint: the steps go on from there

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.viz is None or trainer.global_step <= self.last_step:
            return  # not rank 0, or a batch whose gradients are still being accumulated
        self.last_step = trainer.global_step
        accumulated = trainer.accumulate_grad_batches  # Lightning divides the loss in outputs by it
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        loss = loss.detach() * accumulated if isinstance(loss, torch.Tensor) and loss.numel() == 1 else None
        images = first_tensor(batch)
        batches = trainer.num_training_batches
        epoch = trainer.current_epoch + ((batch_idx + 1) / batches if 0 < batches < math.inf else 0)
        self.viz.log(trainer.global_step, loss=loss, accuracy=self._metric(trainer, self.TRAIN_ACCURACY),
                     epoch=epoch, batch_size=len(images) * accumulated if images is not None and images.dim() else None)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.viz is None or trainer.sanity_checking:
            return
        loss, accuracy = self._metric(trainer, self.VAL_LOSS), self._metric(trainer, self.VAL_ACCURACY)
        if loss is None and accuracy is None:
            if not self.warned:
                self.warned = True
                log.warning("convscope.watch: the validation logged none of %s: the page shows no evaluation "
                            "(self.log one of them in validation_step)", ", ".join(self.VAL_LOSS + self.VAL_ACCURACY))
            return
        self.viz.evaluate(test_loss=loss, test_accuracy=accuracy, step=trainer.global_step)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._close("finished")

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self._close("finished" if isinstance(exception, KeyboardInterrupt) else "error")

    def _close(self, status: str) -> None:
        if self.viz is not None:
            self.viz.close(status)

    @staticmethod
    def _metric(trainer: Trainer, keys: Sequence[str]) -> float | None:
        """The first of `keys` in trainer.callback_metrics, as a number; None when none is there."""
        metrics = trainer.callback_metrics
        value = next((metrics[key] for key in keys if key in metrics), None)
        if isinstance(value, torch.Tensor):
            return float(value.detach()) if value.numel() == 1 else None
        return float(value) if isinstance(value, (int, float)) else None
