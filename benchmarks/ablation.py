"""What each trick of the speed-run recipe is worth: test accuracy at a fixed epoch budget with
the whole recipe, with the recipe before the tricks of ADDED, then with each trick removed, one
at a time, same seed, on CIFAR-10.

The test-time augmentations need no training of their own: the whole recipe's network is also
evaluated without them. Training seconds exclude evaluation.

    python benchmarks/ablation.py                          # fast, 3 epochs, every trick
    python benchmarks/ablation.py --epochs 2 --only lookahead "BN momentum"
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from machine import describe
from convscope.data import load_dataset
from convscope.models import get_preset
from convscope.train import TrainConfig, Trainer

# each trick: the recipe changes that take it out (a spec change where it lives in the network)
REMOVALS: dict[str, dict[str, Any]] = {
    "whitening": {"spec": "trainable 2x2 conv"},
    "whitening bias": {"spec": "whitening without bias", "whiten_bias_epochs": 0.0},
    "dirac init": {"init": "default"},
    "frozen BN scales": {"bn_frozen_weight": False},
    "bias lr x64": {"bias_lr": 1.0},
    "BN momentum 0.4": {"bn_momentum": 0.1},
    "lookahead": {"lookahead": False},
    "alternating flip": {"alternate_flip": False},
    "translation": {"crop_pad": 0},
    "label smoothing": {"label_smoothing": 0.0},
    "triangular schedule": {"schedule": "onecycle"},
}
# the whole recipe's network evaluated with less test-time augmentation (it has flip + 1 px shifts)
TTA = {"flip only": {"tta_shift": 0}, "none": {"tta_shift": 0, "flip_tta": False}}

# the tricks the `fast` recipe gained with the ablation (the recipe before had the others)
ADDED = ("whitening bias", "dirac init", "frozen BN scales", "bias lr x64", "BN momentum 0.4",
         "lookahead", "alternating flip")


def with_spec_change(spec: list[dict], change: str) -> list[dict]:
    out = []
    for layer in spec:
        if layer["type"] == "whiten" and change == "whitening without bias":
            layer = {**layer, "bias": False}
        elif layer["type"] == "whiten" and change == "trainable 2x2 conv":
            channels = 3 * 2 * layer["size"] ** 2  # as wide as the whitening layer
            layer = {"type": "conv", "filters": channels, "size": layer["size"]}
        out.append(layer)
    return out


def without(preset_name: str, *tricks: str) -> tuple[list[dict], TrainConfig]:
    """The preset's spec and config with `tricks` taken out."""
    preset = get_preset(preset_name)
    spec, recipe = preset.spec, dict(preset.recipe)
    for trick in tricks:
        changes = dict(REMOVALS[trick])
        if "spec" in changes:
            spec = with_spec_change(spec, changes.pop("spec"))
        recipe.update(changes)
    return spec, TrainConfig().replace(**recipe)


def before(preset_name: str) -> tuple[list[dict], TrainConfig]:
    """The preset with the recipe it had before the tricks of ADDED and multi-crop TTA."""
    spec, config = without(preset_name, *ADDED)
    return spec, config.replace(tta_shift=0)


def train(spec: list[dict], config: TrainConfig, dataset, label: str) -> tuple[Trainer, float]:
    """The trained Trainer and its final test accuracy."""
    trainer = Trainer(spec, dataset, config.replace(eval_every=config.epochs))
    accuracy = trainer.fit().accuracy
    print(f"  {label:32s} {accuracy:.2%}  {trainer.train_seconds:6.0f} s  "
          f"{trainer.images_seen / trainer.train_seconds:5.0f} img/s", flush=True)
    return trainer, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/cifar10-jpeg.zip")
    parser.add_argument("--model", default="fast")
    parser.add_argument("--epochs", type=float, default=3.0, help="the budget of every run")
    parser.add_argument("--only", nargs="*", choices=list(REMOVALS), help="remove only these tricks")
    args = parser.parse_args()

    dataset = load_dataset(args.data)
    load_before = os.getloadavg()[0]
    rows = []

    spec, config = without(args.model)
    whole, base = train(spec, config.replace(epochs=args.epochs), dataset, "whole recipe")
    rows.append(("whole recipe", base, whole.train_seconds))
    for name, changes in TTA.items():
        whole.config = whole.config.replace(**changes)
        rows.append((f"test-time augmentation: {name}", whole.evaluate().accuracy, whole.train_seconds))
    spec, config = before(args.model)
    trainer, accuracy = train(spec, config.replace(epochs=args.epochs), dataset, "the recipe before")
    rows.append(("the recipe before (none of the added tricks)", accuracy, trainer.train_seconds))
    for trick in args.only if args.only is not None else list(REMOVALS):
        if without(args.model, trick) == without(args.model):
            print(f"  {trick}: not in the recipe, skipped")
            continue
        spec, config = without(args.model, trick)
        trainer, accuracy = train(spec, config.replace(epochs=args.epochs), dataset, f"without {trick}")
        rows.append((f"without {trick}", accuracy, trainer.train_seconds))

    print(f"\n{describe(load_before)}\ndata: {dataset.source}; model {args.model}, {args.epochs:g} epochs, "
          f"seed {config.seed}; seconds are training time\n")
    print("| run | test accuracy | vs whole recipe | training s |")
    print("| --- | --- | --- | --- |")
    for label, accuracy, seconds in rows:
        print(f"| {label} | {accuracy:.2%} | {100 * (accuracy - base):+.2f} pts | {seconds:.0f} |")


if __name__ == "__main__":
    main()
