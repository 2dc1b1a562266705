"""Is the run diverging? A watch on the training loss, step by step.

Two rules, either pauses the run (server/worker/session.py):

- the loss is not finite (NaN or infinity): the weights are already ruined;
- the loss exploded: its moving average (EMA, 0.9 per step) is more than FACTOR times the lowest
  it has been, *and* more than CHANCE_FACTOR times the loss of guessing uniformly (ln of the
  number of classes). The first rule alone would fire on a run whose loss went from 0.001 to
  0.01 while it fits a tiny training set; the second alone on a run that never learned. Both
  together mean the run is far worse than where it was and worse than knowing nothing. The EMA
  starts after WARMUP steps, so the first noisy batches are not its minimum.

    watch = DivergenceWatch(num_classes=10)
    problem = watch.update(loss, step)   # None, or why the run diverged
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FACTOR = 10.0  # times the lowest smoothed loss
CHANCE_FACTOR = 3.0  # times the loss of a uniform guess, ln(classes)
SMOOTHING = 0.9  # EMA weight of the past per step
WARMUP = 10  # steps before the lowest smoothed loss counts


@dataclass
class DivergenceWatch:
    num_classes: int
    ema: float | None = None
    lowest: float = math.inf
    steps: int = 0

    def reset(self) -> None:
        self.ema, self.lowest, self.steps = None, math.inf, 0

    def update(self, loss: float, step: int) -> str | None:
        """Take one step's training loss; why the run diverged, or None."""
        if not math.isfinite(loss):
            return (f"training diverged at step {step}: the loss is {loss} (not a number), so the run is "
                    "paused; lower the learning rate and reset")
        self.steps += 1
        self.ema = loss if self.ema is None else SMOOTHING * self.ema + (1 - SMOOTHING) * loss
        if self.steps >= WARMUP:
            self.lowest = min(self.lowest, self.ema)
        chance = math.log(max(self.num_classes, 2))
        if self.ema > FACTOR * self.lowest and self.ema > CHANCE_FACTOR * chance:
            return (f"training diverged at step {step}: the loss (smoothed {self.ema:.3g}) is over {FACTOR:g} "
                    f"times its lowest ({self.lowest:.3g}) and worse than guessing ({chance:.3g}), so the run "
                    "is paused; lower the learning rate and reset")
        return None
