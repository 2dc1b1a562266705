"""ConvscopeCallback: a tiny LightningModule fitted on the CPU with the callback, its run read over
HTTP from the page the callback's watch serves (as tests/watched/test_watch.py reads a plain loop)."""

import math

import httpx
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from convscope.watched.local import LocalPage
from support import unavailable, until

STEPS = 12


@pytest.fixture(scope="module")
def pl():
    try:
        import lightning.pytorch as pl
    except ImportError:
        try:
            import pytorch_lightning as pl
        except ImportError:
            unavailable("PyTorch Lightning is not installed", 'pip install lightning (or pip install ".[test]")')
    return pl


@pytest.fixture
def page(tmp_path):
    yield tmp_path
    if LocalPage.current is not None:
        LocalPage.current.stop()


def quarters(n: int, seed: int) -> TensorDataset:
    """1x28x28 images whose class (0-3) is which quarter is bright."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = torch.randn(n, 1, 28, 28, generator=g) * 0.3
    for i, c in enumerate(y.tolist()):
        x[i, 0, (c // 2) * 14:(c // 2) * 14 + 14, (c % 2) * 14:(c % 2) * 14 + 14] += 1.5
    return TensorDataset(x, y)


def module(pl, fail_at: int | None = None):
    class LitLeNet(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5),
                                     nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 4))
            self.losses: list[float] = []

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            if fail_at is not None and self.global_step == fail_at:
                raise RuntimeError("a bug in the training step")
            x, y = batch
            logits = self(x)
            loss = nn.functional.cross_entropy(logits, y)
            self.log("train_acc", (logits.argmax(1) == y).float().mean())
            self.losses.append(float(loss.detach()))
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            logits = self(x)
            self.log("val_loss", nn.functional.cross_entropy(logits, y))
            self.log("val_acc", (logits.argmax(1) == y).float().mean())

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)

    return LitLeNet()


def fit(pl, model, callback, steps: int = STEPS) -> None:
    trainer = pl.Trainer(callbacks=[callback], max_steps=steps, accelerator="cpu", devices=1, logger=False,
                         enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, val_check_interval=6,
                         limit_val_batches=2, num_sanity_val_steps=1)
    trainer.fit(model, DataLoader(quarters(256, 0), batch_size=16, shuffle=True),
                DataLoader(quarters(64, 1), batch_size=32))


def callback(page):
    from convscope.watched.lightning import ConvscopeCallback

    probe, labels = quarters(8, 2).tensors
    return ConvscopeCallback(probe, labels, ["top left", "top right", "bottom left", "bottom right"], port=0,
                             runs_dir=page, show=False)


def test_a_lightning_fit_is_shown_step_by_step_with_its_validations(pl, page):
    model, viz = module(pl), callback(page)
    fit(pl, model, viz)
    assert viz.viz.closed.is_set()
    http = httpx.Client(base_url=viz.viz.url.split("?")[0], timeout=30)
    run = until(lambda: (r := http.get("/api/run").json())["status"] == "finished" and r)
    assert run["run_id"] == viz.viz.run_id and run["model"] == "LitLeNet" and run["step"] == STEPS
    assert run["config"]["optimizer"] == "sgd" and run["config"]["lr"] == 0.05
    assert [layer["name"].split(":")[0] for layer in run["layers"]][:2] == ["net.0", "net.1"]
    history = until(lambda: (h := http.get(f"/api/runs/{viz.viz.run_id}/history").json())["train"][-1:]
                    and h["train"][-1]["step"] == STEPS and len(h["test"]) == 2 and h)
    train = history["train"]
    assert [p["step"] for p in train] == list(range(1, STEPS + 1))
    assert [p["loss"] for p in train] == pytest.approx(model.losses, rel=1e-5)
    assert all(0 <= p["accuracy"] <= 1 for p in train) and train[-1]["epoch"] > 0
    assert [p["step"] for p in history["test"]] == [6, 12]  # the sanity check is not an evaluation
    assert all(math.isfinite(p["loss"]) and 0 <= p["accuracy"] <= 1 for p in history["test"])


def test_a_failing_fit_closes_the_run_as_an_error(pl, page):
    viz = callback(page)
    with pytest.raises(RuntimeError, match="a bug in the training step"):
        fit(pl, module(pl, fail_at=3), viz)
    http = httpx.Client(base_url=viz.viz.url.split("?")[0], timeout=30)
    run = until(lambda: (r := http.get("/api/run").json())["status"] == "error" and r)
    assert run["step"] == 3


def test_a_module_without_forward_is_told_at_the_start(pl, page):
    class NoForward(pl.LightningModule):
        def training_step(self, batch, batch_idx):
            return None

        def configure_optimizers(self):
            return torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)

    with pytest.raises(TypeError, match="no forward"):
        fit(pl, NoForward(), callback(page))
