"""convscope classify: the top classes of each image under a checkpoint's network."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support import make_tiny_dataset
from PIL import Image

from convscope.cli import main
from convscope.data import CIFAR10_CLASSES
from convscope.models import get_preset
from convscope.train import TrainConfig, Trainer, load_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    trainer = Trainer(get_preset("convnetjs").spec, make_tiny_dataset(), TrainConfig(batch_size=32, precision="fp32"),
                      device="cpu")
    for _ in range(3):
        trainer.step()
    return save_checkpoint(trainer, tmp_path_factory.mktemp("ckpt") / "run.pt")


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for name, size in (("a.png", (32, 32)), ("b.jpg", (120, 80))):
        path = tmp_path / name
        Image.fromarray(rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def ranked(checkpoint, image) -> list[tuple[str, float]]:
    """Every class of a 32x32 image and its probability under the checkpoint's network, most likely first
    (the image scaled as the checkpoint's training images were: the tiny set's own statistics, not CIFAR-10's)."""
    loaded = load_checkpoint(checkpoint)
    x = loaded.input_format.to_tensor(np.asarray(Image.open(image)))
    with torch.no_grad():
        probabilities = loaded.build_model()(x).softmax(1)[0]
    return sorted(zip(loaded.classes, probabilities.tolist()), key=lambda guess: -guess[1])


def test_json_gives_each_images_top_classes(checkpoint, images, capsys):
    assert main(["classify", "--checkpoint", str(checkpoint), *map(str, images), "--json", "--top", "10"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["file"] for line in lines] == [str(p) for p in images]
    first = lines[0]["top"]
    expected = ranked(checkpoint, images[0])  # a 32x32 PNG: the network sees it as it is
    assert [g["class"] for g in first] == [c for c, _ in expected]
    assert [g["p"] for g in first] == pytest.approx([p for _, p in expected], abs=1e-6)  # rounded to 6 places
    assert abs(sum(g["p"] for g in first) - 1) < 1e-4
    assert lines[1]["crop"] == {"width": 120, "height": 80, "left": 20, "top": 0, "size": 80}


def test_text_lists_the_top_k(checkpoint, images, capsys):
    assert main(["classify", "--checkpoint", str(checkpoint), str(images[0]), "--top", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == str(images[0])
    assert out[1:] == [f"  {p:7.2%}  {c}" for c, p in ranked(checkpoint, images[0])[:3]]
    assert all(line.split()[1] in CIFAR10_CLASSES for line in out[1:])


def test_a_bad_image_is_reported_and_the_rest_classified(checkpoint, images, tmp_path, capsys):
    bad = tmp_path / "drawing.svg"
    bad.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    code = main(["classify", "--checkpoint", str(checkpoint), str(bad), str(images[0]), str(tmp_path / "missing.png"),
                 "--json"])
    assert code == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "SVG" in lines[0]["error"] and "top" in lines[1] and "No such file" in lines[2]["error"]


def test_a_missing_checkpoint_is_a_clear_error(tmp_path, images, capsys):
    assert main(["classify", "--checkpoint", str(tmp_path / "nope.pt"), str(images[0])]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint file" in err and "Traceback" not in err
