import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convscope.models import get_preset
from convscope.train import Command, TrainConfig, Trainer

def test_step_counts_images_and_epochs(make_trainer):
    trainer = make_trainer()
    m = trainer.step()
    assert (m.step, m.batch_size, trainer.images_seen) == (1, 32, 32)
    assert m.epoch == pytest.approx(32 / 256)
    assert m.lr == pytest.approx(0.05 * (1 / 25))  # onecycle starts at lr / 25
    assert len(trainer.history["train"]) == 1


def test_train_history_is_thinned_past_its_bound(make_trainer, monkeypatch):
    monkeypatch.setattr("convscope.train.loop.TRAIN_HISTORY_MAX", 6)
    trainer = make_trainer()
    for _ in range(7):
        trainer.step()
    # the 7th record made 7 > 6: records 6, 4, 2 went, 1, 3, 5, 7 stayed
    assert [m["step"] for m in trainer.history["train"]] == [1, 3, 5, 7]


def test_same_seed_gives_the_same_run(make_trainer):
    a, b = make_trainer(), make_trainer()
    losses_a = [a.step().loss for _ in range(5)]
    losses_b = [b.step().loss for _ in range(5)]
    assert losses_a == losses_b
    c = make_trainer(seed=1)
    assert [c.step().loss for _ in range(5)] != losses_a


def test_evaluate_confusion_matrix_adds_up(make_trainer, tiny_dataset):
    trainer = make_trainer()
    m = trainer.evaluate()
    confusion = np.array(m.confusion)
    assert confusion.shape == (10, 10) and confusion.sum() == 128
    assert m.accuracy == pytest.approx(np.trace(confusion) / 128)
    true_counts = np.bincount(tiny_dataset.test_labels, minlength=10)
    assert (confusion.sum(1) == true_counts).all()
    for c in range(10):
        if true_counts[c]:
            assert m.per_class[c] == pytest.approx(confusion[c, c] / true_counts[c])


def test_flip_tta_averages_image_and_mirror(make_trainer):
    trainer = make_trainer(flip_tta=True)
    x = trainer.test_images[:4]
    trainer.model.eval()
    with torch.no_grad():
        expected = ((trainer.model(x) + trainer.model(x.flip(-1))) / 2).softmax(1)
    assert torch.allclose(trainer.predict(x), expected, atol=1e-6)


def test_fit_runs_the_configured_epochs_and_learns(make_trainer):
    trainer = make_trainer(epochs=8, eval_every=4)
    evals = []
    final = trainer.fit(on_eval=lambda t, m: evals.append(m.epoch))
    assert trainer.epoch == pytest.approx(8, abs=32 / 256)
    assert len(evals) == 2  # at epoch 4 and at the end
    assert final.accuracy > 0.5  # ten colour classes: chance is 0.1


def test_fit_takes_commands_between_steps(make_trainer):
    trainer = make_trainer(epochs=100)
    script = {1: [Command("update", {"lr": 0.2, "batch_size": 16})],
              3: [Command("pause")], 4: [Command("step")], 5: [], 6: [Command("resume")],
              8: [Command("stop")]}
    calls, paused_flags = [0], []

    def commands(paused: bool):
        calls[0] += 1
        paused_flags.append(paused)
        return script.get(calls[0], [])

    result = trainer.fit(commands=commands)
    assert result is None  # stopped before any evaluation
    assert trainer.config.lr == 0.2 and trainer.config.batch_size == 16
    # steps ran after calls 1, 2, 4 (the single step while paused), 6, 7: five in all
    assert trainer.step_count == 5
    assert paused_flags[3:6] == [True, True, True]
    assert trainer.history["train"][-1]["batch_size"] == 16


def test_update_refuses_bad_and_fixed_changes_and_keeps_the_config(make_trainer):
    trainer = make_trainer()
    before = trainer.config
    with pytest.raises(ValueError, match="lr must be > 0"):
        trainer.update(lr=-1.0)
    with pytest.raises(ValueError, match="cannot change seed while training"):
        trainer.update(seed=3)
    assert trainer.config == before


def test_update_switches_optimizer(make_trainer):
    trainer = make_trainer()
    assert trainer.step().lr == pytest.approx(0.05 / 25)  # SGD, onecycle's start
    trainer.update(optimizer="adamw", lr=0.001)
    assert isinstance(trainer.optimizer, torch.optim.AdamW)
    # 32 of the run's 2 * 256 images are done: progress 1/16, 5/16 of the 0.2 warm-up, so the
    # onecycle factor is 1/25 + 24/25 * (1 - cos(5 pi / 16)) / 2 = 0.04 + 0.96 * 0.22222 = 0.25333
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.001 * 0.25333, rel=1e-4)
    m = trainer.step()
    assert m.lr == pytest.approx(0.001 * 0.25333, rel=1e-4)
    assert trainer.optimizer.param_groups[0]["betas"] == (0.9, 0.999)  # momentum is AdamW's beta1
    assert all(s["step"] == 1 for s in trainer.optimizer.state.values())  # the new optimiser took the step


def test_whiten_layer_is_initialised_from_the_data(tiny_dataset):
    spec = [{"type": "whiten", "size": 2}, {"type": "gelu"}, {"type": "globalpool"},
            {"type": "fc", "units": 10}, {"type": "softmax"}]
    trainer = Trainer(spec, tiny_dataset, TrainConfig(precision="fp32"), device="cpu")
    whiten = trainer.model.layers[0]
    weight = next(p for p in whiten.parameters())
    assert not weight.requires_grad and weight.shape == (24, 3, 2, 2)  # 2 * 3 * 2 * 2 filters
    # by definition: the first 12 filters W turn the training images' 2x2 patches (covariance S)
    # into decorrelated ones, W S W^T = diag(l / (l + eps)) over S's eigenvalues l, largest first;
    # the other 12 are their negatives
    patches = F.unfold(trainer.train_images.double(), 2).transpose(1, 2).reshape(-1, 12)  # (N * 31 * 31, 12)
    covariance = patches.T @ patches / len(patches)
    eigenvalues = torch.linalg.eigvalsh(covariance).flip(0)
    w = weight.double().reshape(24, 12)
    torch.testing.assert_close(w[:12] @ covariance @ w[:12].T, torch.diag(eigenvalues / (eigenvalues + 5e-4)),
                               atol=1e-4, rtol=0)
    torch.testing.assert_close(w[12:], -w[:12])


def test_real_cifar_training_learns(cifar_jpeg):
    """Two epochs of the ConvNetJS network on 10,000 real CIFAR-10 images (every fifth: the
    image folders are in class order, so a prefix would hold only airplanes and cars)."""
    subset = dataclasses.replace(
        cifar_jpeg, train_images=cifar_jpeg.train_images[::5],
        train_labels=cifar_jpeg.train_labels[::5],
        test_images=cifar_jpeg.test_images[::5], test_labels=cifar_jpeg.test_labels[::5])
    assert np.bincount(subset.test_labels).tolist() == [200] * 10
    config = TrainConfig().replace(**get_preset("convnetjs").recipe).replace(epochs=2, eval_every=2)
    trainer = Trainer(get_preset("convnetjs").spec, subset, config, device="cpu")
    final = trainer.fit()
    losses = [m["loss"] for m in trainer.history["train"]]
    assert np.mean(losses[-20:]) < np.mean(losses[:20]) - 0.3
    assert final.accuracy > 0.35  # chance is 0.10
