"""InputFormat: the training images' shape, statistics and background, and one-channel training."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from support import make_digit_dataset
from convscope.inference import decode_image
from convscope.models import PRESETS
from convscope.train import TrainConfig, Trainer, load_checkpoint, save_checkpoint
from convscope.train.inputs import CIFAR10, InputFormat


def test_statistics_worked_out_by_hand():
    images = np.zeros((2, 2, 2, 1), np.uint8)
    images[0] = 255  # pixels 1, 1, 1, 1, 0, 0, 0, 0 on the 0..1 scale: mean 1/2
    fmt = InputFormat.of(images)
    assert (fmt.channels, fmt.height, fmt.width) == (1, 2, 2)
    assert fmt.mean == (0.5,) and fmt.std == (round(float(np.std([1] * 4 + [0] * 4, ddof=1)), 4),)
    x = fmt.to_tensor(images)
    assert x.shape == (2, 1, 2, 2) and torch.allclose(x[0], torch.full((1, 2, 2), 0.5 / fmt.std[0]))


def test_raw_pixels_when_not_normalised_and_the_background_is_measured():
    digits = make_digit_dataset(train=20, test=4)
    raw = InputFormat.of(digits.train_images, normalized=False)
    assert raw.mean == (0.0,) and raw.std == (1.0,) and raw.dark_background
    assert torch.allclose(raw.to_tensor(digits.train_images[:1]), torch.from_numpy(
        digits.train_images[:1]).permute(0, 3, 1, 2).float() / 255)
    light = np.full((3, 8, 8, 3), 200, np.uint8)
    assert not InputFormat.of(light).dark_background
    assert InputFormat.from_dict(raw.to_dict()) == raw and InputFormat.from_dict(None) == CIFAR10


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def test_an_upload_becomes_the_networks_gray_square_inverted_when_its_background_is_light():
    fmt = InputFormat(1, 28, 28, (0.1,), (0.3,), dark_background=True)
    paper = np.full((56, 84, 3), 255, np.uint8)  # black ink on white paper, wider than tall
    paper[20:36, 40:44] = 0
    decoded = decode_image(png(paper), fmt)
    assert decoded.pixels.shape == (28, 28, 1)
    assert decoded.pixels[0, 0, 0] == 0 and decoded.pixels[14, 14, 0] > 200  # ink became light on black
    assert any("inverted" in note for note in decoded.notes)
    dark = np.zeros((28, 28, 3), np.uint8)
    dark[10:18, 10:18] = (255, 0, 0)  # red square: luma 76
    decoded = decode_image(png(dark), fmt)
    assert decoded.pixels[14, 14, 0] == 76 and not any("inverted" in note for note in decoded.notes)


@pytest.mark.parametrize("name", ["lenet-bn", "convnetjs"])
def test_a_preset_trains_on_one_channel_28x28_images(name, tmp_path):
    """lenet-bn is written for 1x28x28; convnetjs's 3x32x32 input layer is fitted to the data."""
    data = make_digit_dataset()
    preset = PRESETS[name]
    config = TrainConfig().replace(**preset.recipe).replace(epochs=3, eval_every=3, batch_size=32)
    trainer = Trainer(preset.spec, data, config, device="cpu")
    first = trainer.spec[0]
    assert (first["type"], first["channels"], first["height"], first["width"]) == ("input", 1, 28, 28)
    final = trainer.fit()
    assert final.accuracy > 0.5, final  # chance is 0.1
    path = save_checkpoint(trainer, tmp_path / "run.pt")
    checkpoint = load_checkpoint(path)
    assert checkpoint.input_format == trainer.input_format
    x = checkpoint.input_format.to_tensor(data.test_images[:8])
    with torch.no_grad():
        mine = checkpoint.build_model()(x).argmax(1)
        theirs = trainer.model.eval()(x.to(memory_format=torch.channels_last)).argmax(1)
    assert torch.equal(mine, theirs)


def test_the_d2l_recipe_is_the_books():
    """Raw pixels, plain SGD at 0.9, batch 256, 10 epochs, no augmentation, Xavier init."""
    config = TrainConfig().replace(**PRESETS["lenet-d2l"].recipe)
    assert (config.optimizer, config.lr, config.momentum, config.weight_decay, config.batch_size,
            config.epochs, config.schedule) == ("sgd", 0.9, 0.0, 0.0, 256, 10, "constant")
    assert not config.normalize and not config.flip and config.crop_pad == 0 and config.init == "xavier"
    trainer = Trainer(PRESETS["lenet-d2l"].spec, make_digit_dataset(train=16, test=4), config, device="cpu")
    fc = [m for m in trainer.model.modules() if isinstance(m, torch.nn.Linear)][0]  # 400 -> 120
    bound = (6 / (400 + 120)) ** 0.5  # Xavier-uniform's; PyTorch's default would be 1/sqrt(400) = 0.05
    assert 0.9 * bound < fc.weight.abs().max().item() <= bound


def test_digits_are_never_mirrored():
    data = make_digit_dataset(train=64, test=4)
    data.flips = False
    trainer = Trainer(PRESETS["lenet-d2l"].spec, data, TrainConfig().replace(flip=True, crop_pad=0, batch_size=64),
                      device="cpu")
    x, _ = trainer.batches.next(64, trainer.config)
    assert torch.equal(x.sort(0).values, trainer.train_images.sort(0).values)  # the same images, unflipped
