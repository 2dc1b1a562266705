"""The convscope command, run in-process through main(argv)."""
import json

import numpy as np
import pytest
from PIL import Image

from convscope.cli import main
from convscope.data import CIFAR10_CLASSES


@pytest.fixture
def image_folder(tmp_path, monkeypatch):
    """A tiny image-folder dataset: 10 classes, 4 train and 2 test PNGs each."""
    monkeypatch.setenv("CONVSCOPE_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("test", 2)):
        for c in CIFAR10_CLASSES:
            folder = tmp_path / "data" / split / c
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return tmp_path / "data"


def test_models_lists_every_preset_with_its_cost(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("convnetjs", "lenet", "alexnet-mini", "vgg-mini", "nin-mini", "googlenet-mini",
                 "resnet-mini", "fast"):
        assert name in out
    line = next(l for l in out.splitlines() if l.startswith("convnetjs"))
    assert "22,466" in line and "3.92M" in line


def test_summary_of_a_preset_prints_the_totals(capsys):
    assert main(["summary", "convnetjs"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 22,466 (22.5K)" in out and "Total MACs:   3,920,000 (3.92M) per image" in out


def test_summary_of_a_bad_spec_file_names_the_layer(tmp_path, capsys):
    spec = tmp_path / "net.json"
    spec.write_text(json.dumps([{"type": "conv", "filters": 8, "size": 64}, {"type": "softmax"}]))
    assert main(["summary", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("convscope: error: ") and "layer 0 (conv)" in err
    assert "Traceback" not in err


def test_unknown_model_is_a_clear_error(capsys):
    assert main(["summary", "resnet-999"]) == 2
    assert "not a preset (convnetjs, lenet" in capsys.readouterr().err


def test_train_json_last_line_is_the_result(image_folder, capsys, tmp_path):
    code = main(["train", "--model", "convnetjs", "--epochs", "2", "--data", str(image_folder),
                 "--batch-size", "8", "--precision", "fp32", "--json",
                 "--checkpoint", str(tmp_path / "run.pt")])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert {"test_accuracy", "images_per_second", "seconds"} <= result.keys()
    assert result["images_per_second"] > 0 and result["steps"] == 2 * 40 // 8
    assert json.loads(lines[0])["epoch"] == pytest.approx(1.0)  # an evaluation line per epoch
    # the reported accuracy is the written network's on the 20 test images, worked out again here
    import torch

    from convscope.train import load_checkpoint

    checkpoint = load_checkpoint(tmp_path / "run.pt")
    model, right = checkpoint.build_model(), 0
    for c, name in enumerate(CIFAR10_CLASSES):
        for path in sorted((image_folder / "test" / name).glob("*.png")):
            x = checkpoint.input_format.to_tensor(np.asarray(Image.open(path).convert("RGB")))
            with torch.no_grad():
                right += int(model(x).argmax()) == c
    assert result["test_accuracy"] == pytest.approx(right / 20)


def test_train_with_missing_data_says_what_to_do(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "Traceback" not in err


def test_train_refuses_bad_hyperparameters(image_folder, capsys):
    assert main(["train", "--data", str(image_folder), "--lr", "-1"]) == 2
    assert "lr must be > 0" in capsys.readouterr().err


def test_train_the_books_lenet_on_an_mnist_layout_folder(tmp_path, monkeypatch, capsys):
    from support import make_digit_dataset, write_idx_dataset

    monkeypatch.setenv("CONVSCOPE_CACHE", str(tmp_path / "cache"))
    folder = write_idx_dataset(make_digit_dataset(train=64, test=20), tmp_path / "digits")
    assert main(["train", "--model", "lenet-d2l", "--data", str(folder), "--epochs", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["model"] == "lenet-d2l" and result["steps"] == 1  # 64 images, batch 256: one step an epoch
    assert set(result["per_class_accuracy"]) == {str(c) for c in range(10)}
