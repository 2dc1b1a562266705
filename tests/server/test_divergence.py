"""The divergence watch (server/train/divergence.py), alone and in the live run."""

from __future__ import annotations

import math

from convscope.train.divergence import WARMUP, DivergenceWatch


def test_a_non_finite_loss_diverges_at_once():
    watch = DivergenceWatch(num_classes=10)
    assert watch.update(2.3, 1) is None
    assert "step 2: the loss is nan" in watch.update(math.nan, 2)
    assert "the loss is inf" in DivergenceWatch(10).update(math.inf, 1)


def test_an_exploding_loss_diverges_a_noisy_or_overfitting_one_does_not():
    watch = DivergenceWatch(num_classes=10)
    for step in range(200):  # learning, noisily, then fitting the training set almost exactly
        loss = max(0.001, 2.3 - step * 0.02) * (1.5 if step % 3 == 0 else 0.7)
        assert watch.update(loss, step) is None, step
    for step in range(200, 210):  # back to chance and a little worse: not diverged
        assert watch.update(3.0, step) is None
    problem = None
    for step in range(210, 260):  # far worse than guessing
        problem = problem or watch.update(40.0, step)
    assert problem and "over 10 times its lowest" in problem and "paused" in problem


def test_the_first_noisy_steps_are_not_the_lowest():
    watch = DivergenceWatch(num_classes=10)
    watch.update(0.01, 1)  # a lucky first batch
    assert all(watch.update(8.0, step) is None for step in range(2, WARMUP))  # the EMA is still warming up
    watch.reset()
    assert watch.ema is None and watch.steps == 0


def test_a_diverging_run_pauses_with_a_clear_message(live):
    config = live.run()["config"]
    try:
        assert live.http.patch("/api/run/hyperparams", json={"lr": 100.0, "momentum": 0.99}).json()["ok"]
        run = live.wait_for(lambda run: run["status"] == "paused")
        assert run["message"].startswith("training diverged at step") and "lower the learning rate" in run["message"]
    finally:
        live.http.patch("/api/run/hyperparams", json={"lr": config["lr"], "momentum": config["momentum"]})
        live.http.post("/api/run/reset")
    run = live.wait_for(lambda run: run["status"] == "training" and run["step"] > 0)
    assert run["message"] is None
