"""Sliding without a server: the whole photo decoded (photo.py), the boxes (slide.py), and a slide of a
grayscale network through LiveClassifier.run_slide with weights made here."""

from __future__ import annotations

import base64
import time

import numpy as np
import pytest
import torch
from PIL import Image
from upload_images import encode, picture, with_orientation

from convscope.inference import ImageError
from convscope.inference.live import LiveClassifier
from convscope.inference.photo import decode_photo, photo_size
from convscope.inference.slide import Box, peaks, suppress
from convscope.messages import Weights
from convscope.models import PRESETS, build_model
from convscope.train.inputs import CIFAR10, InputFormat

DIGITS = InputFormat(1, 28, 28, (0.13,), (0.31,), dark_background=True)


def test_the_whole_photo_is_kept_scaled_to_its_longer_side():
    photo = decode_photo(encode(picture(400, 300), "JPEG"), CIFAR10, 256)
    assert photo.pixels.shape == (192, 256, 3) and (photo.width, photo.height, photo.scale) == (400, 300, 0.64)
    assert photo.notes == ["scaled down to 256x192"]
    # a tall picture turned upright by its EXIF orientation: 60x100 stored, 100x60 upright
    upright = decode_photo(with_orientation(picture(60, 100), 6), CIFAR10, 200)
    assert upright.pixels.shape == (120, 200, 3) and upright.width == 100
    assert "turned upright as its EXIF orientation says" in upright.notes
    # each side at least the window: a wide strip is scaled up until a window fits
    assert photo_size(300, 20, 256, (32, 32)) == (480, 32)
    with pytest.raises(ImageError, match="longer than 2048 pixels"):
        decode_photo(encode(Image.new("RGB", (3000, 10)), "PNG"), CIFAR10, 256)


def test_a_gray_network_gets_a_gray_photo_inverted_when_it_learnt_light_on_dark():
    paper = np.full((60, 80, 3), 240, np.uint8)
    paper[20:40, 30:50] = 20  # a dark stroke on white paper
    photo = decode_photo(encode(Image.fromarray(paper), "PNG"), DIGITS, 80)
    assert photo.pixels.shape == (60, 80, 1)
    assert photo.pixels[0, 0, 0] < 30 and photo.pixels[30, 40, 0] > 220  # light on dark now
    assert "inverted: the network learnt light shapes on a dark background" in photo.notes


def test_boxes_are_local_maxima_over_the_threshold_without_overlapping_their_own_class():
    p = torch.zeros(2, 5, 6)
    p[0, 1, 1], p[0, 1, 2], p[0, 4, 5] = 0.9, 0.8, 0.6  # (1, 2) is beside a stronger window: not a maximum
    p[1, 1, 2] = 0.7  # another class at the same place: kept
    boxes = peaks(p, 0.5, (32, 32), (8, 8))
    assert [(b.cls, b.p, b.x, b.y) for b in boxes] == [(0, 0.9, 8, 8), (1, 0.7, 16, 8), (0, 0.6, 40, 32)]
    # one class: the weaker of two boxes overlapping by more than 0.3 goes (8 pixels apart: IoU 0.6)
    near = [Box(0, 0.9, 0, 0, 32, 32), Box(0, 0.8, 8, 0, 32, 32), Box(0, 0.7, 24, 0, 32, 32), Box(1, 0.6, 8, 0, 32, 32)]
    assert suppress(near) == [near[0], near[2], near[3]]


def test_a_gray_network_slides_in_the_server_process():
    torch.manual_seed(0)
    network = build_model(PRESETS["lenet-d2l"].spec).eval()  # 1x28x28, conv 1 pads by 2
    weights = Weights(name="lenet-d2l", spec=network.spec, classes=[f"c{i}" for i in range(10)], step=7,
                      state=network.state_dict(), input_format=DIGITS, time=time.time())
    data = encode(picture(120, 90), "PNG")
    result = LiveClassifier(mirror=None).run_slide(data, weights, side=120, threshold=0.0)
    assert (result.photo.width, result.photo.height, result.window, result.stride) == (120, 90, [28, 28], [4, 4])
    assert result.grid == [(90 - 28) // 4 + 1, (120 - 28) // 4 + 1]
    rows, cols = result.grid
    assert all(len(base64.b64decode(m.data)) == rows * cols for m in result.maps)
    # the same numbers as the network on each crop of the photo it slid over
    photo = DIGITS.to_tensor(decode_photo(data, DIGITS, 120).pixels)
    crops = torch.cat([photo[:, :, 4 * i:4 * i + 28, 4 * j:4 * j + 28] for i in range(rows) for j in range(cols)])
    with torch.no_grad():
        want = network(crops).softmax(1).T.reshape(10, rows, cols)
    got = np.stack([np.frombuffer(base64.b64decode(m.data), np.uint8).reshape(rows, cols) for m in result.maps])
    assert np.abs(got - want.numpy() * 255).max() <= 0.5 + 1e-3
    assert result.macs.run == result.macs.exact > result.macs.one_pass  # conv 1 pads: its frames cost
    assert result.boxes and result.layers[1].frame == [2, 2, 2, 2]
