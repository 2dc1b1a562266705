"""torch.compile (inductor) against eager mode for a preset's training step, compile time included.

Both sides train the same network with the preset's recipe on the same random images (speed
only: what the pixels are does not matter). The compiled side is timed from its first step, so
its compile time counts, and is run twice in fresh processes: once with an empty inductor cache
(--cache, default a new temporary folder) and once with it filled, as a second run of the day
would find it. The table says after how many steps compiling pays, against a normal run's length.

    python benchmarks/compile.py [--model fast] [--steps 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from machine import describe
from convscope.data import Dataset
from convscope.models import get_preset
from convscope.train import TrainConfig, Trainer


def random_dataset(n: int = 4096) -> Dataset:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.int64)
    return Dataset(train_images=images, train_labels=labels, test_images=images[:256],
                   test_labels=labels[:256], classes=[str(i) for i in range(10)], source="random images")


def measure(model_name: str, steps: int, compiled: bool) -> dict:
    """Seconds of the first step and img/s of the `steps` after two more warm-up steps."""
    preset = get_preset(model_name)
    trainer = Trainer(preset.spec, random_dataset(), TrainConfig().replace(**preset.recipe))
    if compiled:
        trainer.model = torch.compile(trainer.model)
    start = time.perf_counter()
    trainer.step()
    first = time.perf_counter() - start
    for _ in range(2):
        trainer.step()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    seconds = time.perf_counter() - start
    return {"first_step_s": first, "images_per_second": steps * trainer.config.batch_size / seconds,
            "batch_size": trainer.config.batch_size, "epochs": trainer.config.epochs}


def in_fresh_process(args: argparse.Namespace, compiled: bool, cache: str) -> dict:
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "TORCHINDUCTOR_FX_GRAPH_CACHE": "1"}
    command = [sys.executable, __file__, "--one", "compiled" if compiled else "eager",
               "--model", args.model, "--steps", str(args.steps)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fast")
    parser.add_argument("--steps", type=int, default=30, help="timed steps after the warm-up")
    parser.add_argument("--cache", help="inductor cache folder (default: a new temporary one)")
    parser.add_argument("--one", choices=["eager", "compiled"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.model, args.steps, args.one == "compiled")))
        return

    load_before = os.getloadavg()[0]
    cache = args.cache or tempfile.mkdtemp(prefix="inductor-")
    rows = [("eager", in_fresh_process(args, False, cache)),
            ("compiled, empty cache", in_fresh_process(args, True, cache)),
            ("compiled, cache filled", in_fresh_process(args, True, cache))]
    eager = rows[0][1]
    run_images = 50_000 * eager["epochs"]  # a normal run of the preset on CIFAR-10
    print(f"\n{describe(load_before)}\nmodel {args.model}, batch {eager['batch_size']}, "
          f"{args.steps} timed steps; inductor cache {cache}\n")
    print(f"| mode | first step s | img/s | speed-up | a {eager['epochs']:g}-epoch run, s | pays after |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, r in rows:
        extra = r["first_step_s"] - eager["first_step_s"]  # the compile time, roughly
        run_s = r["first_step_s"] + run_images / r["images_per_second"]
        gain_per_image = 1 / eager["images_per_second"] - 1 / r["images_per_second"]
        pays = f"{extra / gain_per_image / 50_000:.2f} epochs" if gain_per_image > 0 and label != "eager" else "-"
        print(f"| {label} | {r['first_step_s']:.1f} | {r['images_per_second']:,.0f} "
              f"| {r['images_per_second'] / eager['images_per_second']:.2f}x | {run_s:,.0f} | {pays} |")


if __name__ == "__main__":
    main()
