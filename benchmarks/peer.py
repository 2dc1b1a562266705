"""Training images/s: the peer itself, side by side: ConvNetJS 0.3.0 under node against convscope.

ConvNetJS trains its own CIFAR-10 demo network (conv 5x5 16, 20, 20 filters, each relu + 2x2
pool, softmax 10) with the demo's trainer (adadelta, batch 4, l2_decay 1e-4), one image at a
time as the demo does, in benchmarks/peer_convnetjs.js. Then convscope trains its `convnetjs`
preset (the same layers) with the preset's own recipe (batch 128, fp32, SGD + onecycle),
through Trainer.step(), single process. Both read the same --images CIFAR-10 training images
(a fixed random sample of all classes) and flip half of them; the two run one after the other,
never at once.

convnetjs@0.3.0 is installed once with npm into --cache (needs node and npm: on Debian or
Ubuntu `sudo apt-get install nodejs npm`; npm's registry must be reachable that first time).

    python benchmarks/peer.py [--data ../shared/datasets/cifar10-jpeg.zip] [--seconds 60]
    python benchmarks/peer.py --seconds 5 --convscope-seconds 5        # a quick look
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from machine import describe
from convscope.data import load_dataset
from convscope.models import get_preset
from convscope.train import TrainConfig, Trainer

CONVNETJS = "convnetjs@0.3.0"
SCRIPT = Path(__file__).with_name("peer_convnetjs.js")


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        sys.exit(f"peer.py needs {tool} (node 18 or newer, and npm) on PATH: on Debian or Ubuntu "
                 f"`sudo apt-get install nodejs npm`, or see https://nodejs.org/en/download")
    return path


def install_convnetjs(cache: Path) -> Path:
    """node_modules under `cache` holding convnetjs 0.3.0 (npm-installed there the first time)."""
    modules = cache / "node_modules"
    package = modules / "convnetjs" / "package.json"
    if package.exists() and json.loads(package.read_text()).get("version") == "0.3.0":
        return modules
    npm = need("npm")
    cache.mkdir(parents=True, exist_ok=True)
    print(f"installing {CONVNETJS} into {cache} ...", flush=True)
    done = subprocess.run([npm, "install", "--no-save", "--prefix", str(cache), CONVNETJS])
    if done.returncode != 0 or not package.exists():
        sys.exit(f"npm could not install {CONVNETJS} into {cache} (is npm's registry reachable?)")
    return modules


def write_images(images: np.ndarray, labels: np.ndarray, path: Path) -> None:
    """N x 3072 uint8 in CIFAR's channel-planar order, then N label bytes (peer_convnetjs.js)."""
    planar = np.ascontiguousarray(images.transpose(0, 3, 1, 2))  # (N, 32, 32, 3) -> (N, 3, 32, 32)
    path.write_bytes(planar.tobytes() + labels.astype(np.uint8).tobytes())


def convnetjs_run(node: str, modules: Path, images: np.ndarray, labels: np.ndarray, seconds: float) -> dict:
    """{images, seconds, images_per_second, loss, node} from ConvNetJS under node."""
    with tempfile.TemporaryDirectory(prefix="convscope-peer-") as tmp:
        data = Path(tmp) / "cifar10.bin"
        write_images(images, labels, data)
        env = {**os.environ, "NODE_PATH": str(modules)}
        done = subprocess.run([node, str(SCRIPT), str(data), str(seconds)], env=env,
                              stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"{SCRIPT.name} failed (exit status {done.returncode})")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["node"] = subprocess.run([node, "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    return result


def convscope_run(dataset, seconds: float) -> tuple[dict, Trainer]:
    """Trainer.step() on the `convnetjs` preset for `seconds`, after two warm-up steps."""
    preset = get_preset("convnetjs")
    trainer = Trainer(preset.spec, dataset, TrainConfig().replace(**preset.recipe))
    for _ in range(2):
        trainer.step()
    images, losses = 0, []
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        metrics = trainer.step()
        images += metrics.batch_size
        losses.append(metrics.loss)
    return {"images": images, "seconds": elapsed, "images_per_second": images / elapsed,
            "loss": sum(losses) / len(losses)}, trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/cifar10-jpeg.zip")
    parser.add_argument("--images", type=int, default=4000,
                        help="training images for both (a fixed random sample)")
    parser.add_argument("--seconds", type=float, default=60.0, help="ConvNetJS's training time")
    parser.add_argument("--convscope-seconds", type=float, default=20.0, help="convscope's training time")
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/convscope/peer"),
                        help="where npm installs convnetjs")
    args = parser.parse_args()

    node = need("node")  # before the minute of loading data
    modules = install_convnetjs(args.cache.expanduser())
    dataset = load_dataset(args.data)
    if dataset.train_images.shape[1:] != (32, 32, 3):
        sys.exit(f"{dataset.source}: images of shape {dataset.train_images.shape[1:]}, "
                 f"the demo network wants CIFAR-10's (32, 32, 3)")
    n = min(args.images, len(dataset.train_labels))
    # A fixed random sample: an image folder's training set comes sorted by class, so its first
    # few thousand would all be airplanes (and ConvNetJS walks its images in order).
    pick = np.random.default_rng(0).permutation(len(dataset.train_labels))[:n]
    images, labels = dataset.train_images[pick], dataset.train_labels[pick]
    # The same images for convscope; a small test set, as nothing is evaluated here.
    subset = dataclasses.replace(dataset, train_images=images, train_labels=labels,
                                 test_images=dataset.test_images[:1000],
                                 test_labels=dataset.test_labels[:1000])

    load_before = os.getloadavg()[0]
    print(f"ConvNetJS: {args.seconds:g} s on {n} images ...", flush=True)
    peer = convnetjs_run(node, modules, images, labels, args.seconds)
    print(f"  {peer['images']} images in {peer['seconds']:.1f} s, mean loss {peer['loss']:.3f}", flush=True)
    print(f"convscope: {args.convscope_seconds:g} s on the same images ...", flush=True)
    ours, trainer = convscope_run(subset, args.convscope_seconds)
    print(f"  {ours['images']} images in {ours['seconds']:.1f} s, mean loss {ours['loss']:.3f}", flush=True)

    print("\n| side | network | batch | precision | img/s |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| ConvNetJS 0.3.0 (node {peer['node']}) | its CIFAR-10 demo | 4 | fp64 "
          f"| {peer['images_per_second']:,.1f} |")
    print(f"| convscope (torch {torch.__version__}) | `convnetjs` preset | {trainer.config.batch_size} "
          f"| {trainer.precision} | {ours['images_per_second']:,.0f} |")
    print(f"\nconvscope / ConvNetJS: {ours['images_per_second'] / peer['images_per_second']:,.0f}x")
    print(f"\n{describe(load_before)}; data: {dataset.source}, {n} of its training images")


if __name__ == "__main__":
    main()
