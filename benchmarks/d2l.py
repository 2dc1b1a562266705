"""The book's LeNet on Fashion-MNIST, beside the numbers Dive into Deep Learning reports for it.

d2l.ai (LeNet, the older edition's train_ch6) trains LeNet for 10 epochs with plain SGD at
learning rate 0.9, batch 256, raw pixels, Xavier init, and reports loss 0.47, train accuracy
0.82 and test accuracy 0.78-0.80. The `lenet-d2l` preset is that recipe; `lenet-bn` is the book's LeNet with batch
normalisation, on the same recipe at learning rate 1.0.
Loss and train accuracy are the book's kind: the mean over the last epoch's steps.

    python benchmarks/d2l.py                       # Debian's dataset-fashion-mnist, or a download
    python benchmarks/d2l.py --data DIR --model lenet-d2l
"""

from __future__ import annotations

import argparse
import os

from machine import describe
from convscope.data import load_dataset
from convscope.models import get_preset
from convscope.train import TrainConfig, Trainer

BOOK = {"lenet-d2l": ("0.47", "0.82", "0.78-0.80")}  # d2l.ai, LeNet, 10 epochs


def run(name: str, dataset, epochs: float | None) -> dict:
    preset = get_preset(name)
    config = TrainConfig().replace(**preset.recipe, **({"epochs": epochs} if epochs else {}))
    trainer = Trainer(preset.spec, dataset, config)
    final = trainer.fit(on_eval=lambda t, m: print(f"  {name} epoch {m.epoch:5.2f}  {m.seconds:6.1f} s  "
                                                    f"test {m.accuracy:.2%}", flush=True))
    steps_per_epoch = -(-len(trainer.batches) // config.batch_size)
    last = trainer.history["train"][-steps_per_epoch:]
    return {"name": name, "loss": sum(p["loss"] for p in last) / len(last),
            "train": sum(p["accuracy"] for p in last) / len(last), "test": final.accuracy,
            "seconds": trainer.train_seconds, "images_per_second": trainer.images_seen / trainer.train_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="fashion-mnist")
    parser.add_argument("--model", nargs="*", default=["lenet-d2l", "lenet-bn"])
    parser.add_argument("--epochs", type=float, help="override the recipe's 10 epochs")
    args = parser.parse_args()

    dataset = load_dataset(args.data)
    load_before = os.getloadavg()[0]
    results = [run(name, dataset, args.epochs) for name in args.model]
    print(f"\n{describe(load_before)}\ndata: {dataset.source}\n")
    print("| model | loss (book) | train acc (book) | test acc (book) | training s | img/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        loss, train, test = BOOK.get(r["name"], ("-", "-", "-"))
        print(f"| `{r['name']}` | {r['loss']:.3f} ({loss}) | {r['train']:.3f} ({train}) | {r['test']:.3f} ({test}) "
              f"| {r['seconds']:.0f} | {r['images_per_second']:,.0f} |")


if __name__ == "__main__":
    main()
