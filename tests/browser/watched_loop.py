"""A user's own PyTorch training loop, shown live by convscope.watch: what tests/browser/test_watch.py
runs as a script of its own (not convscope's trainer).

    python tests/browser/watched_loop.py --model lenet|resnet [--control] --runs-dir DIR --port 0

It trains on endless synthetic batches that a network learns in a few hundred steps (lenet: 1x28x28,
class c is a bright bar at row 2c + 4; resnet: 3x32x32, class c is a colour of its own), logging every
step, with a short sleep per step (~50-100 steps a second), and evaluates on a fixed test batch now
and then. It runs until it is killed (SIGTERM closes the watch first).

convscope.watch prints the page's address to stderr; a thread prints "step N lr X" to stdout four
times a second (also while the loop waits in a paused log()), so a test can tell whether the loop
itself advances and which learning rate its optimizer has.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

import torch
import torch.nn.functional as F
from torch import nn

import convscope

CLASSES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
STEP_SLEEP = 0.01  # seconds between steps


def lenet() -> nn.Sequential:
    """LeNet-5 on 1x28x28 (d2l.ai's, with padding 2 on the first conv), as in tests/watched."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


class Block(nn.Module):
    """A ResNet basic block: in-place ReLU, `out += identity`, a functional in-place ReLU at the end."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return F.relu(out, inplace=True)


class TinyResNet(nn.Module):
    """3x32x32 -> 10 classes: a stem with an in-place ReLU, two blocks (the second with a 1x1 conv
    shortcut), global average pooling, one fc layer (as in tests/watched/conftest.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = Block(8, 8, 1)
        self.layer2 = Block(8, 16, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer2(self.layer1(self.relu(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def bars(size: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """1x28x28, normalised: noise, and a bright horizontal bar at row 2c + 4 for class c."""
    y = torch.randint(0, 10, (size,), generator=g)
    x = torch.randn(size, 1, 28, 28, generator=g) * 0.3 - 0.5
    for i, c in enumerate(y.tolist()):
        x[i, 0, 2 * c + 4:2 * c + 6, 4:24] = 2.0
    return x, y


COLOURS = torch.tensor([[1, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, -1], [1, -1, 1],
                        [-1, 1, 1], [1, 1, 1], [-1, -1, -1], [0.5, 0, -0.5], [-0.5, 0.5, 0]], dtype=torch.float32)


def colours(size: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """3x32x32, normalised: class c is colour c, with noise and a brighter square somewhere."""
    y = torch.randint(0, 10, (size,), generator=g)
    x = COLOURS[y][:, :, None, None] + torch.randn(size, 3, 32, 32, generator=g) * 0.4
    for i in range(size):
        top, left = torch.randint(0, 20, (2,), generator=g).tolist()
        x[i, :, top:top + 12, left:left + 12] += 0.8
    return x, y


class Counter:
    """The loop's own step count, printed to stdout four times a second from a thread of its own."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.step, self.optimizer = 0, optimizer
        threading.Thread(target=self.report, name="step-counter", daemon=True).start()

    def report(self) -> None:
        while True:
            print(f"step {self.step} lr {self.optimizer.param_groups[0]['lr']:g}", flush=True)
            time.sleep(0.25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("lenet", "resnet"), default="lenet")
    parser.add_argument("--control", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--runs-dir", required=True)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # close the watch on the way out
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model, batches = (lenet(), bars) if args.model == "lenet" else (TinyResNet(), colours)
    # the sigmoid LeNet sits still for hundreds of steps under SGD: Adam (a user's usual choice)
    optimizer = (torch.optim.Adam(model.parameters(), lr=3e-3) if args.model == "lenet"
                 else torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    g = torch.Generator().manual_seed(1)
    probe, probe_labels = batches(8, g)
    test_x, test_y = batches(64, g)
    viz = convscope.watch(model, probe, probe_labels, CLASSES, optimizer=optimizer, control=args.control,
                          port=args.port, runs_dir=args.runs_dir, show=True)
    counter = Counter(optimizer)
    try:
        while True:
            x, y = batches(16, g)
            model.train()
            optimizer.zero_grad()
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
            counter.step += 1
            viz.log(counter.step, loss=loss, accuracy=(logits.argmax(1) == y).float().mean(), batch_size=len(x))
            if counter.step % 100 == 0:
                model.eval()
                with torch.no_grad():
                    out = model(test_x)
                viz.evaluate(test_loss=F.cross_entropy(out, test_y).item(),
                             test_accuracy=(out.argmax(1) == test_y).float().mean().item(),
                             predictions=out, labels=test_y)
            time.sleep(STEP_SLEEP)
    finally:
        viz.close()


if __name__ == "__main__":
    main()
