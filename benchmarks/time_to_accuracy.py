"""Training time for a preset to reach given test accuracies on CIFAR-10, with its own recipe.

The test set is evaluated every --eval-every epochs; evaluation time is not counted, the time
is the training time up to the evaluation that first reached each mark (so crossings are
quantised to the evaluation interval). `fast-before` is the `fast` preset with the recipe it had
before the speed-run tricks of benchmarks/ablation.py's ADDED: the reference, in the same run.

    python benchmarks/time_to_accuracy.py                        # fast, then fast-before
    python benchmarks/time_to_accuracy.py --model fast convnetjs --epochs 12
"""

from __future__ import annotations

import argparse
import os


from ablation import before
from machine import describe
from convscope.data import load_dataset
from convscope.models import get_preset
from convscope.train import EvalMetrics, TrainConfig, Trainer

SPEED_MARKS = (0.80, 0.90, 0.92, 0.93)
MARKS = {"convnetjs": (0.50, 0.60, 0.70)}


def spec_and_config(name: str) -> tuple[list[dict], TrainConfig]:
    if name == "fast-before":
        return before("fast")
    preset = get_preset(name)
    return preset.spec, TrainConfig().replace(**preset.recipe)


def run(name: str, dataset, epochs: float | None, eval_every: float) -> dict:
    spec, config = spec_and_config(name)
    config = config.replace(eval_every=eval_every, **({"epochs": epochs} if epochs else {}))
    trainer = Trainer(spec, dataset, config)
    marks = MARKS.get(name, SPEED_MARKS)
    reached: dict[float, float] = {}

    def on_eval(trainer: Trainer, m: EvalMetrics) -> None:
        for mark in marks:
            if m.accuracy >= mark and mark not in reached:
                reached[mark] = m.seconds
        print(f"  {name} epoch {m.epoch:5.2f}  {m.seconds:7.1f} s  test {m.accuracy:.2%}", flush=True)

    final = trainer.fit(on_eval=on_eval)
    return {"name": name, "config": config, "marks": marks, "reached": reached,
            "final": final.accuracy, "seconds": trainer.train_seconds,
            "images_per_second": trainer.images_seen / trainer.train_seconds,
            "precision": trainer.precision}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/cifar10-jpeg.zip")
    parser.add_argument("--model", nargs="*", default=["fast", "fast-before"])
    parser.add_argument("--epochs", type=float, help="override the preset's epochs")
    parser.add_argument("--eval-every", type=float, default=0.5, help="epochs between evaluations")
    args = parser.parse_args()

    dataset = load_dataset(args.data)
    load_before = os.getloadavg()[0]
    results = [run(name, dataset, args.epochs, args.eval_every) for name in args.model]
    print(f"\n{describe(load_before)}\ndata: {dataset.source}; times are training seconds\n")
    print("| model | epochs | batch | precision | img/s | marks | final | total s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        cells = [f"{m:.0%}: {r['reached'][m]:.0f} s" if m in r["reached"] else f"{m:.0%}: -"
                 for m in r["marks"]]
        print(f"| {r['name']} | {r['config'].epochs:g} | {r['config'].batch_size} | {r['precision']} "
              f"| {r['images_per_second']:,.0f} | {', '.join(cells)} | {r['final']:.2%} "
              f"| {r['seconds']:.0f} |")


if __name__ == "__main__":
    main()
