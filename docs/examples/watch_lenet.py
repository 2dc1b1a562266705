"""d2l.ai's LeNet trained on Fashion-MNIST in plain PyTorch, watched live with convscope.watch.

    python docs/examples/watch_lenet.py                # the book's 10 epochs; open the printed address
    python docs/examples/watch_lenet.py --steps 300    # stop after 300 steps
    python docs/examples/watch_lenet.py --data DIR     # a folder holding the four IDX files
"""

import argparse
import sys

import torch
from torch import nn

import convscope
from convscope.data import load_dataset

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", default="fashion-mnist",
                    help="the four IDX files' folder; by default Debian's copy, else downloaded once")
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--steps", type=int, help="stop after this many steps")
parser.add_argument("--port", type=int, default=8000, help="the page's port (taken: a free one)")
args = parser.parse_args()

data = load_dataset(args.data)  # (N, 28, 28, 1) uint8 images, labels, class names
x_train = torch.from_numpy(data.train_images).permute(0, 3, 1, 2).float() / 255  # (60000, 1, 28, 28)
x_test = torch.from_numpy(data.test_images).permute(0, 3, 1, 2).float() / 255  # (10000, 1, 28, 28)
y_train, y_test = torch.from_numpy(data.train_labels), torch.from_numpy(data.test_labels)

model = nn.Sequential(
    nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2),
    nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(),
    nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))
for layer in model:
    if isinstance(layer, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(layer.weight)
opt = torch.optim.SGD(model.parameters(), lr=0.9)  # the book's recipe: plain SGD, batch 256
batches_per_epoch = -(-len(x_train) // 256)

with convscope.watch(model, probe=x_test[:16], labels=y_test[:16], classes=data.classes,
                     optimizer=opt, control=True, port=args.port) as viz:
    step = 0
    for epoch in range(args.epochs):
        model.train()
        for i, batch in enumerate(torch.randperm(len(x_train)).split(256)):
            x, y = x_train[batch], y_train[batch]
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            viz.log(step, loss=loss, accuracy=(logits.argmax(1) == y).float().mean(),
                    epoch=epoch + (i + 1) / batches_per_epoch, batch_size=len(x))
            if step == args.steps:
                break
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(x) for x in x_test.split(1000)])
        test_loss = nn.functional.cross_entropy(logits, y_test).item()
        viz.evaluate(test_loss=test_loss, predictions=logits, labels=y_test)  # accuracy, per class, confusion
        print(f"step {step}: test loss {test_loss:.3f}, "
              f"test accuracy {(logits.argmax(1) == y_test).float().mean():.3f}", flush=True)
        if step == args.steps:
            break

if sys.stdin.isatty():
    input("Training is over; the page stays until you press Enter. ")
