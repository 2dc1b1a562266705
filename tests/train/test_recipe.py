"""The speed-run recipe's parts, each checked by hand: dirac init, batchnorm settings, the bias
learning rate, decoupled weight decay, lookahead, the whitening bias and multi-crop TTA."""

import pytest
import torch
from torch import nn

from convscope.train import TrainConfig, Trainer
from convscope.train.optim import apply_hyperparams, decay_weights, make_optimizer
from convscope.train.recipe import LOOKAHEAD_DECAY, Lookahead, init_weights, set_batchnorm, whiten_biases
from convscope.train.tta import shifted, tta_logits


def test_dirac_init_starts_each_3x3_conv_as_the_identity_on_its_first_channels():
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, padding=1, bias=False)
    spare = conv.weight.data[4:].clone()
    init_weights(nn.Sequential(conv), "dirac")
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        y = conv(x)
    assert torch.equal(y[:, :4], x)
    assert torch.equal(conv.weight.data[4:], spare)  # the other filters keep their random start


def test_batchnorm_momentum_and_frozen_scales():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    model[1].weight.data.fill_(3.0)
    set_batchnorm(model, TrainConfig(bn_momentum=0.4, bn_frozen_weight=True))
    norm = model[1]
    assert norm.momentum == 0.4 and not norm.weight.requires_grad and bool((norm.weight == 1).all())
    assert norm.bias.requires_grad
    trained = {id(p) for group in make_optimizer(model, TrainConfig()).param_groups for p in group["params"]}
    assert trained == {id(model[0].weight), id(model[0].bias), id(norm.bias)}


def test_bn_and_whitening_biases_get_the_lr_multiplier_and_the_decay_divided_by_it():
    from convscope.models.whiten import Whiten

    model = nn.Sequential(Whiten(3, 1, bias=True), nn.Conv2d(6, 4, 3), nn.BatchNorm2d(4))
    cfg = TrainConfig(bias_lr=64.0, weight_decay=6.4e-3)
    optimizer = make_optimizer(model, cfg)
    apply_hyperparams(optimizer, cfg, lr=0.5)
    plain, biases = optimizer.param_groups
    assert [id(p) for p in biases["params"]] == [id(model[0].bias), id(model[2].bias)]
    assert len(plain["params"]) == 3  # conv weight and bias, bn weight
    assert (plain["lr"], plain["weight_decay"]) == (0.5, pytest.approx(6.4e-3))
    assert (biases["lr"], biases["weight_decay"]) == (32.0, pytest.approx(1e-4))


def test_decoupled_weight_decay_shrinks_by_lr_times_decay_outside_the_momentum():
    weight = nn.Parameter(torch.tensor([2.0, -4.0]))
    model = nn.Module()
    model.weight = weight
    cfg = TrainConfig(lr=0.5, momentum=0.9, weight_decay=0.1, decoupled_wd=True)
    optimizer = make_optimizer(model, cfg)
    weight.grad = torch.zeros(2)
    decay_weights(optimizer)
    optimizer.step()
    assert weight.data.tolist() == pytest.approx([2.0 * 0.95, -4.0 * 0.95])  # 1 - 0.5 x 0.1
    assert optimizer.state[weight]["momentum_buffer"].abs().max() == 0  # no decay went through it
    # coupled (L2): the decay is a gradient, through Nesterov momentum: 2 - 0.5 x (1 + 0.9) x 0.2
    coupled = nn.Parameter(torch.tensor([2.0]))
    model.weight = coupled
    optimizer = make_optimizer(model, cfg.replace(decoupled_wd=False))
    coupled.grad = torch.zeros(1)
    decay_weights(optimizer)
    optimizer.step()
    assert coupled.item() == pytest.approx(2.0 - 0.5 * 1.9 * 0.2)


def test_lookahead_pulls_the_weights_to_a_slow_average_and_ends_on_it():
    model = nn.Linear(1, 1, bias=False)
    model.weight.data.fill_(1.0)
    lookahead = Lookahead(model)
    model.weight.data.fill_(3.0)
    lookahead.after_step(step=4, progress=0.5)  # not due
    assert model.weight.item() == 3.0
    lookahead.after_step(step=5, progress=0.5)
    decay = LOOKAHEAD_DECAY * 0.5 ** 3
    expected = decay * 1.0 + (1 - decay) * 3.0
    assert model.weight.item() == pytest.approx(expected)
    model.weight.data.fill_(10.0)
    lookahead.after_step(step=7, progress=1.0)  # the end: back to the slow weights, unmoved
    assert model.weight.item() == pytest.approx(expected)


def test_the_whitening_bias_trains_then_freezes(tiny_dataset):
    spec = [{"type": "input", "channels": 3, "height": 32, "width": 32},
            {"type": "whiten", "size": 2, "bias": True}, {"type": "relu"},
            {"type": "pool", "size": 8}, {"type": "fc", "units": 10}, {"type": "softmax"}]
    trainer = Trainer(spec, tiny_dataset, TrainConfig(epochs=1, batch_size=64, lr=0.5, precision="fp32",
                                                      whiten_bias_epochs=0.5), device="cpu")
    (bias,) = whiten_biases(trainer.model)
    assert bias.requires_grad and bool((bias == 0).all())
    trainer.step()
    trainer.step()  # 128 of 256 images: half an epoch
    assert not bias.requires_grad and bias.abs().sum() > 0
    frozen = bias.detach().clone()
    trainer.step()
    assert torch.equal(bias.detach(), frozen)


def test_shifted_copies_by_hand():
    x = torch.arange(9.0).view(1, 1, 3, 3)  # rows 0 1 2 / 3 4 5 / 6 7 8
    down_right, up_left = shifted(x, 1)
    assert down_right[0, 0].tolist() == [[4, 3, 4], [1, 0, 1], [4, 3, 4]]  # reflected top-left edge
    assert up_left[0, 0].tolist() == [[4, 5, 4], [7, 8, 7], [4, 5, 4]]


def test_multi_crop_weights_the_image_half_and_each_shift_a_quarter():
    x = torch.arange(9.0).view(1, 1, 3, 3)
    model = nn.Flatten()  # logits = the pixels themselves
    down_right, up_left = shifted(x, 1)
    expected = x.flatten(1) / 2 + (down_right.flatten(1) + up_left.flatten(1)) / 4
    assert torch.allclose(tta_logits(model, x, flip=False, shift=1), expected)
    mirror = (x.flatten(1) + x.flip(-1).flatten(1)) / 2
    assert torch.allclose(tta_logits(model, x, flip=True, shift=0), mirror)


@pytest.mark.parametrize("capability, precision", [((7, 0), "fp16"), ((7, 5), "fp16"), ((8, 0), "bf16"), ((9, 0), "bf16")])
def test_auto_precision_on_a_gpu_is_native_bf16_or_fp16(monkeypatch, capability, precision):
    """A V100 (7.0) or T4 (7.5) emulates bf16 (torch.cuda.is_bf16_supported() says yes): fp16 there."""
    from convscope.train.device import auto_precision
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert auto_precision(torch.device("cuda")) == precision


def test_fp16_trains_with_a_gradient_scaler(make_trainer):
    trainer = make_trainer(precision="fp16")
    assert trainer.precision == "fp16" and trainer.scaler.is_enabled()
    before = [p.detach().clone() for p in trainer.model.parameters()]
    losses = [trainer.step().loss for _ in range(4)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert trainer.scaler.get_scale() > 1  # the loss was scaled up for backward
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))
