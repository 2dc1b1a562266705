"""Training images/s: convscope's Trainer against a bare hand-written PyTorch loop.

Both train the same network (built from the same spec), at the same batch size, precision and
memory format, on the same normalised tensors with the same flip + crop augmentation. The
bare loop is what you would write by hand in a notebook: no metrics, no schedule, no commands.
Each configuration is measured in alternating rounds so drift in the machine hits both sides.

    python benchmarks/throughput.py [--data ../shared/datasets/cifar10-jpeg.zip] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F

from machine import describe
from convscope.data import load_dataset
from convscope.data.augment import random_crop, random_flip
from convscope.models import get_preset
from convscope.train import TrainConfig, Trainer

MODELS = ("convnetjs", "vgg-mini", "fast")


def bare_loop_images_per_second(trainer: Trainer, steps: int) -> float:
    """A hand-written loop over the trainer's own model and tensors (fresh optimiser)."""
    cfg, model = trainer.config, trainer.model
    images, labels = trainer.train_images, trainer.train_labels
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True,
                                weight_decay=5e-4)
    bs = cfg.batch_size
    model.train()
    start = 0.0
    for i in range(steps + 2):  # two warm-up steps
        if i == 2:
            start = time.perf_counter()
        index = torch.randint(len(labels), (bs,))
        x = images[index]
        if cfg.crop_pad:
            x = random_crop(x, cfg.crop_pad)
        if cfg.flip:
            x = random_flip(x)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=trainer.precision == "bf16"):
            loss = F.cross_entropy(model(x).float(), labels[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss.item()
    return steps * bs / (time.perf_counter() - start)


def engine_images_per_second(trainer: Trainer, steps: int) -> float:
    for _ in range(2):
        trainer.step()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    return steps * trainer.config.batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/cifar10-jpeg.zip")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0, help="per measurement")
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    args = parser.parse_args()

    dataset = load_dataset(args.data)
    load_before = os.getloadavg()[0]
    print("| model | batch | precision | bare loop img/s | engine img/s | engine / bare |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in args.models:
        preset = get_preset(name)
        config = TrainConfig().replace(**preset.recipe).replace(cutout=0, epochs=1000)
        trainer = Trainer(preset.spec, dataset, config)
        probe = engine_images_per_second(trainer, 3)
        steps = max(3, int(args.seconds * probe / config.batch_size))
        bare, engine = [], []
        for _ in range(args.rounds):
            bare.append(bare_loop_images_per_second(trainer, steps))
            engine.append(engine_images_per_second(trainer, steps))
        b, e = max(bare), max(engine)
        print(f"| {name} | {config.batch_size} | {trainer.precision} "
              f"| {b:,.0f} | {e:,.0f} | {e / b:.2f}x |", flush=True)
    print(f"\n{describe(load_before)}; data: {dataset.source}")


if __name__ == "__main__":
    main()
