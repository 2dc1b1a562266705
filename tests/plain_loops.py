"""A user's own training, as convscope.watch sees it: a LeNet, learnable synthetic batches, a loop
in a thread that logs every step (tests/watched, tests/bus)."""

import threading
import time

import torch
from torch import nn

CLASSES = [f"class {i}" for i in range(10)]


def lenet() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                         nn.ReLU(), nn.Linear(84, 10))


def batches(seed: int = 0, size: int = 16):
    """Endless batches of 1x28x28 images whose class is which quarter is bright: learnable fast."""
    g = torch.Generator().manual_seed(seed)
    while True:
        y = torch.randint(0, 4, (size,), generator=g)
        x = torch.randn(size, 1, 28, 28, generator=g) * 0.3
        for i, c in enumerate(y.tolist()):
            x[i, 0, (c // 2) * 14:(c // 2) * 14 + 14, (c % 2) * 14:(c % 2) * 14 + 14] += 1.5
        yield x, y


class Loop:
    """A user's training loop in a thread: trains until stopped, logging every step."""

    def __init__(self, viz, model, opt, steps: int = 10**9, rest: float = 0.0) -> None:
        self.viz, self.model, self.opt, self.steps, self.rest = viz, model, opt, steps, rest  # rest: seconds per step
        self.step, self.stop = 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        for x, y in batches():
            if self.stop.is_set() or self.step >= self.steps:
                return
            self.opt.zero_grad()
            logits = self.model(x)
            loss = nn.functional.cross_entropy(logits, y)
            loss.backward()
            self.opt.step()
            self.step += 1
            self.viz.log(self.step, loss=loss, accuracy=(logits.argmax(1) == y).float().mean(), batch_size=len(x))
            time.sleep(self.rest)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
