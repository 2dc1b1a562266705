"""POST /api/slide on a real server: the live network slid over a photo, each window checked against
the network run on its crop; bad photos and a network that cannot slide get a clear 4xx."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
import torch
from PIL import Image
from upload_images import SVG, bomb, encode, picture

from convscope.train import load_checkpoint

from support import TIMEOUT

# a valid network that classifies a 32x32 window but cannot slide: its inception branches give
# 16x16 maps on a window, moving 2 pixels per output in one branch and 1 in the other
MISALIGNED = [{"type": "conv", "filters": 4, "size": 3, "pad": 1},
              {"type": "inception", "branches": [[{"type": "conv", "filters": 4, "size": 2, "stride": 2}],
                                                 [{"type": "conv", "filters": 4, "size": 17}]]},
              {"type": "fc", "units": 10}, {"type": "softmax"}]


def slide(live, data: bytes, name: str = "photo.png", **params):
    return live.http.post("/api/slide", files={"file": (name, data)}, params=params)


def maps(body: dict) -> np.ndarray:
    """(classes, rows, cols) uint8: p x 255."""
    rows, cols = body["grid"]
    return np.stack([np.frombuffer(base64.b64decode(m["data"]), np.uint8).reshape(rows, cols) for m in body["maps"]])


def photo_pixels(body: dict) -> np.ndarray:
    data = base64.b64decode(body["photo"]["data"].removeprefix("data:image/png;base64,"))
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_a_photo_gets_a_map_per_class_boxes_and_the_costs(live):
    response = slide(live, encode(picture(400, 300), "JPEG"), threshold=0)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "convnetjs" and 0 <= body["age"] < 30 and body["exact"] is True
    photo = body["photo"]
    assert (photo["width"], photo["height"], photo["source_width"], photo["source_height"]) == (256, 192, 400, 300)
    assert photo["scale"] == 0.64 and photo["format"] == "JPEG" and "scaled down to 256x192" in photo["notes"]
    assert photo_pixels(body).shape == (192, 256, 3)
    # 32x32 windows, 8 pixels apart (three 2x2 pools): (192 - 32) / 8 + 1 rows, (256 - 32) / 8 + 1 columns
    assert (body["window"], body["stride"], body["grid"]) == ([32, 32], [8, 8], [21, 29])
    p = maps(body)
    assert p.shape == (10, 21, 29) and [m["class"] for m in body["maps"]] == body["classes"]
    assert [m["peak"] for m in body["maps"]] == pytest.approx(p.reshape(10, -1).max(1) / 255, abs=0.5 / 255 + 1e-4)
    assert np.abs(p.sum(0).astype(int) - 255).max() <= 5  # a probability per class at every window: they sum to 1
    # boxes: local maxima of their class's map, strongest first, none overlapping another of its class much
    boxes = body["boxes"]
    assert 0 < len(boxes) <= 20 and [b["p"] for b in boxes] == sorted((b["p"] for b in boxes), reverse=True)
    for box in boxes:
        assert (box["width"], box["height"]) == (32, 32) and box["x"] % 8 == 0 and box["y"] % 8 == 0
        assert box["x"] + 32 <= 256 and box["y"] + 32 <= 192
        c, i, j = body["classes"].index(box["class"]), box["y"] // 8, box["x"] // 8
        assert abs(p[c, i, j] - round(box["p"] * 255)) <= 1
        assert p[c, i, j] == p[c, max(0, i - 1):i + 2, max(0, j - 1):j + 2].max()
    for a in boxes:
        for b in boxes:
            if a is not b and a["class"] == b["class"]:
                inter = max(0, 32 - abs(a["x"] - b["x"])) * max(0, 32 - abs(a["y"] - b["y"]))
                assert inter / (2 * 32 * 32 - inter) <= 0.3
    macs = body["macs"]
    assert macs["windows"] == 21 * 29 and macs["per_window"] == 21 * 29 * 3_920_000
    assert macs["run"] == macs["exact"] == macs["shared"] + macs["frames"]
    assert macs["one_pass"] < macs["exact"] < macs["per_window"]
    layers = body["layers"]
    assert [row["path"] for row in layers] == [[i] for i in range(12)] and sum(r["window"] for r in layers) == 3_920_000
    assert layers[10]["layer"] == "fc 10" and layers[10]["recast"].startswith("conv 4x4, 10 filters")
    assert layers[1]["frame"] == [2, 2, 2, 2] and layers[7]["whole"] is True and layers[0]["frame"] is None
    assert "slide;dur=" in response.headers["server-timing"]


def test_each_window_is_the_network_on_its_crop(live, tmp_path):
    live.http.post("/api/run/pause")
    step = live.wait_for(lambda run: run["status"] == "paused")["step"]
    data = encode(picture(150, 90, seed=3), "PNG")
    deadline = time.monotonic() + TIMEOUT
    while (body := slide(live, data, side=128).json())["step"] != step:
        assert time.monotonic() < deadline, "the server's weights never caught up with the paused run"
        time.sleep(0.2)
    checkpoint = tmp_path / "run.pt"
    checkpoint.write_bytes(live.http.get("/api/checkpoint").content)
    loaded = load_checkpoint(checkpoint)
    model = loaded.build_model().eval()
    photo = loaded.input_format.to_tensor(photo_pixels(body))  # (1, 3, 77, 128)
    rows, cols = body["grid"]
    assert photo.shape[2:] == (77, 128) and (rows, cols) == (6, 13)
    crops = torch.cat([photo[:, :, 8 * i:8 * i + 32, 8 * j:8 * j + 32] for i in range(rows) for j in range(cols)])
    with torch.no_grad():
        want = model(crops).softmax(1).T.reshape(10, rows, cols).numpy()
    assert np.abs(maps(body) - want * 255).max() <= 0.5 + 1e-3  # the same numbers, rounded to bytes
    one_pass = slide(live, data, side=128, exact="false").json()
    assert one_pass["exact"] is False and one_pass["step"] == step and one_pass["grid"] == [rows, cols]
    assert one_pass["macs"]["run"] == one_pass["macs"]["one_pass"] == body["macs"]["one_pass"]
    live.http.post("/api/run/resume")


@pytest.mark.parametrize(("name", "data", "status", "words"), [
    ("empty.png", b"", 422, "empty"),
    ("notes.png", b"a text file that claims to be a PNG\n" * 4, 415, "not a JPEG, PNG"),
    ("drawing.svg", SVG, 415, "SVG"),
    ("bomb.png", bomb(), 422, "decompression bomb"),
    ("strip.png", encode(Image.new("RGB", (10000, 10), (10, 200, 10)), "PNG"), 422, "longer than 2048 pixels"),
    ("dot.png", encode(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"), 200, None),
])
def test_every_photo_gets_an_answer_or_a_clear_4xx(live, name, data, status, words):
    response = slide(live, data, name=name)
    assert response.status_code == status, response.text
    if words:
        assert words in response.json()["detail"]
    else:
        assert response.json()["photo"]["width"] == 256 and "scaled up 256 times, to 256x256" in \
            response.json()["photo"]["notes"]


def test_bad_parameters_no_file_and_too_large_a_photo_are_refused(live):
    data = encode(picture(64, 48), "PNG")
    for params in ({"side": 10}, {"side": 5000}, {"threshold": 2}, {"exact": "maybe"}):
        assert slide(live, data, **params).status_code == 422, params
    response = live.http.post("/api/slide", data={"file": "not a file"})
    assert response.status_code == 422 and "no file in the form" in response.json()["detail"]
    response = slide(live, data, side=1024)  # 15,625 windows, each recomputing its frames
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "a 1024x768 photo exactly would take" in detail and "(11,625 windows); the limit is 5G" in detail
    assert "one pass over it would take 3.05G" in detail
    assert slide(live, data, side=1024, exact="false").status_code == 200


def test_a_network_that_cannot_slide_is_a_422_that_says_why(live):
    reply = live.http.post("/api/run/model", json={"spec": MISALIGNED, "name": "misaligned"}).json()
    assert reply["ok"], reply
    try:
        data = encode(picture(64, 48), "PNG")
        deadline = time.monotonic() + TIMEOUT
        while (response := slide(live, data)).status_code == 503:  # the new network's weights are on their way
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["path"] == [1] and problem["detail"].startswith(
            "the live network cannot slide over a photo: layer 1 (inception): branch 0 moves 2 pixels per output, "
            "branch 1 moves 1 pixel: on one 32x32 input both give 16x16 maps")
        # it still classifies a window
        assert live.http.post("/api/classify", files={"file": ("p.png", data)}).status_code == 200
    finally:
        assert live.http.post("/api/run/model", json={"name": "convnetjs"}).json()["ok"]
        live.http.patch("/api/run/hyperparams", json={"batch_size": 32, "epochs": 100_000})
        live.wait_for(lambda run: run["model"] == "convnetjs" and run["step"] > 2)
