"""POST /api/classify on a real server: right answers, every bad input a clear 4xx, training undisturbed."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from upload_images import SVG, animated_gif, bomb, encode, picture, png16_rgb

from convscope.inference import MAX_BYTES
from convscope.limits import rate_limits
from convscope.protocol import decode_probe
from convscope.train import load_checkpoint

from support import TIMEOUT


def classify(live, data: bytes, name: str = "upload.png", **params):
    return live.http.post("/api/classify", files={"file": (name, data)}, params=params)


def paused(live):
    """Pause the run and wait until the server's copy of the weights is the paused step's."""
    live.http.post("/api/run/pause")
    step = live.wait_for(lambda run: run["status"] == "paused")["step"]
    deadline = time.monotonic() + TIMEOUT
    while (answer := classify(live, encode(picture(), "PNG")).json())["step"] != step:
        assert time.monotonic() < deadline, "the server's weights never caught up with the paused run"
        time.sleep(0.2)
    return step


def test_an_upload_gets_probabilities_maps_and_the_crop(live):
    response = classify(live, encode(picture(64, 48), "PNG"), top=3)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "convnetjs" and 0 <= body["age"] < 10
    assert len(body["probabilities"]) == 10 and abs(sum(body["probabilities"]) - 1) < 1e-5
    assert [g["p"] for g in body["top"]] == sorted(body["probabilities"], reverse=True)[:3]
    assert body["explained"] == body["top"][0]["class"]
    for name in ("gradcam", "gradient"):
        pixels = base64.b64decode(body[name]["data"])
        assert (body[name]["height"], body[name]["width"], len(pixels)) == (32, 32, 1024)
    crop = Image.open(io.BytesIO(base64.b64decode(body["input"].removeprefix("data:image/png;base64,"))))
    assert crop.size == (32, 32)
    assert body["image"]["crop"] == {"width": 64, "height": 48, "left": 8, "top": 0, "size": 48}
    header, _ = decode_probe(base64.b64decode(body["frame"]))
    assert header.image.source == "upload" and header.step == body["step"]
    assert {b.layer for b in header.blobs if b.kind == "activation"} == {row["index"] for row in live.run()["layers"]}
    assert "classify;dur=" in response.headers["server-timing"]


def test_the_same_file_gives_the_same_answer(live):
    paused(live)
    data = encode(picture(300, 200), "JPEG")
    first, second = classify(live, data).json(), classify(live, data).json()
    for key in ("step", "probabilities", "gradcam", "gradient", "input", "frame"):
        assert first[key] == second[key], key
    live.http.post("/api/run/resume")


def test_a_test_image_the_model_gets_right_comes_back_first(live, image_folder: Path, tmp_path):
    step = paused(live)
    checkpoint = tmp_path / "run.pt"
    checkpoint.write_bytes(live.http.get("/api/checkpoint").content)
    loaded = load_checkpoint(checkpoint)
    model = loaded.build_model()

    def probabilities(path: Path) -> list[float]:
        """By hand: the image scaled as the run's training images are (their own statistics)."""
        with torch.no_grad():
            x = loaded.input_format.to_tensor(np.asarray(Image.open(path).convert("RGB")))
            return model(x).softmax(1)[0].tolist()

    right = next((path for path in sorted(image_folder.glob("test/*/*.png"))
                  if f"class{int(np.argmax(probabilities(path)))}" == path.parent.name), None)
    assert right is not None, "the model gets no test image right"
    body = classify(live, right.read_bytes()).json()
    assert body["step"] == step
    assert body["top"][0]["class"] == right.parent.name
    assert body["probabilities"] == pytest.approx(probabilities(right), abs=1e-5)  # a 32x32 PNG: as it is
    live.http.post("/api/run/resume")


def cut_jpeg() -> bytes:
    data = encode(picture(200, 200), "JPEG")
    return data[:len(data) // 2]


def cmyk_jpeg() -> bytes:
    return encode(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), "JPEG")


def png16() -> bytes:
    return encode(Image.fromarray(np.tile(np.linspace(0, 65535, 64), (64, 1)).astype(np.uint16)), "PNG")


@pytest.mark.parametrize(("name", "data", "status", "words"), [
    ("empty.png", b"", 422, "empty"),
    ("notes.png", b"a text file that claims to be a PNG\n" * 4, 415, "not a JPEG, PNG"),
    ("cut.jpg", cut_jpeg(), 422, "damaged or cut short"),
    ("drawing.svg", SVG, 415, "SVG"),
    ("bomb.png", bomb(), 422, "decompression bomb"),
    ("dot.png", encode(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"), 200, None),
    ("strip.png", encode(Image.new("RGB", (10000, 10), (10, 200, 10)), "PNG"), 200, None),
    ("animated.gif", animated_gif(), 200, None),
    ("cmyk.jpg", cmyk_jpeg(), 200, None),
    ("deep.png", png16(), 200, None),
    ("deep-rgb.png", png16_rgb(np.full((32, 32, 3), 40000, np.uint16)), 200, None),
])
def test_every_upload_gets_an_answer_or_a_clear_4xx(live, name, data, status, words):
    response = classify(live, data, name=name)
    assert response.status_code == status, response.text
    if words:
        assert words in response.json()["detail"]
    else:
        assert abs(sum(response.json()["probabilities"]) - 1) < 1e-5


def test_an_upload_over_the_limit_is_refused_with_413(live):
    too_big = b"\xff\xd8" + b"\0" * MAX_BYTES
    response = classify(live, too_big, name="huge.jpg")
    assert response.status_code == 413 and "limit" in response.json()["detail"]

    def chunks():  # no Content-Length: refused while it streams in
        for _ in range(12):
            yield b"\0" * 2**20

    response = live.http.post("/api/classify", content=chunks(), headers={"Content-Type": "image/png"})
    assert response.status_code == 413


def test_a_form_without_a_file_is_refused(live):
    for form in ({"data": {"file": "not a file"}}, {"files": {"file": (None, "not a file")}}):
        response = live.http.post("/api/classify", **form)
        assert response.status_code == 422 and "no file" in response.json()["detail"], response.text


def test_a_broken_form_is_a_4xx(live):
    response = live.http.post("/api/classify", content=b"garbage", headers={"Content-Type": "multipart/form-data"})
    assert response.status_code == 400 and "boundary" in response.json()["detail"]
    response = live.http.post("/api/classify", content=b"--xyz\r\nno headers, no end",
                              headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert response.status_code == 400, response.text  # the parser stops at the space in "no headers"
    assert response.json()["detail"].startswith("the multipart/form-data body is malformed: "), response.text


def test_a_raw_image_body_works_too(live):
    response = live.http.post("/api/classify", content=encode(picture(), "PNG"),
                              headers={"Content-Type": "image/png"})
    assert response.status_code == 200


def test_training_goes_on_while_classifying(live):
    before = live.run()["step"]
    for _ in range(5):
        assert classify(live, bomb()).status_code == 422
        assert classify(live, encode(picture(), "WEBP")).status_code == 200
    live.wait_for(lambda run: run["step"] > before + 5 and run["status"] == "training")
    assert live.http.get("/api/health").json()["worker"] == "alive"


def test_nearest_training_images_include_the_image_itself(live):
    train = live.http.get("/api/images/train/17.png")
    assert train.status_code == 200 and train.headers["content-type"] == "image/png"
    assert live.http.get("/api/images/train/99999.png").status_code == 404
    deadline = time.monotonic() + TIMEOUT
    while not (body := classify(live, train.content, neighbours=5).json())["neighbours"]["items"]:
        assert body["neighbours"]["note"], body["neighbours"]
        assert time.monotonic() < deadline, "the feature index never arrived"
        time.sleep(0.5)
    items = body["neighbours"]["items"]
    assert len(items) == 5 and items[0]["index"] == 17 and items[0]["similarity"] > 0.999
    assert [i["similarity"] for i in items] == sorted((i["similarity"] for i in items), reverse=True)
    assert body["neighbours"]["step"] <= live.run()["step"] and body["neighbours"]["age"] >= 0


def test_a_confusion_cell_lists_its_test_images(live):
    live.wait_for(lambda run: run["epoch"] >= 1.2)  # an evaluation has happened
    live.http.post("/api/run/pause")
    live.wait_for(lambda run: run["status"] == "paused")
    time.sleep(0.5)  # the evaluation's verdicts reach the server
    cells = [[live.http.get(f"/api/evaluation/confusion/{t}/{p}").json() for p in range(10)] for t in range(10)]
    assert sum(cell["count"] for row in cells for cell in row) == 100  # every test image once
    mirror = live.app.state.mirror  # the last evaluation, as the worker sent it
    assert [[cell["count"] for cell in row] for row in cells] == mirror.last_confusion
    assert {cell["step"] for row in cells for cell in row} == {mirror.test[-1].step}
    for t, row in enumerate(cells):
        assert sum(cell["count"] for cell in row) == 10  # the test set has 10 images of each class
        for p, cell in enumerate(row):
            assert (cell["true"], cell["predicted"]) == (f"class{t}", f"class{p}")
            # test images are in class order, 10 a class: image i is of class i // 10
            assert len(cell["indices"]) == cell["count"] and all(i // 10 == t for i in cell["indices"]), cell
    assert live.http.get("/api/evaluation/confusion/10/0").status_code == 404
    live.http.post("/api/run/resume")


PARTS = ["prediction", "gradcam", "gradient", "frame", "neighbours"]


def test_by_default_an_answer_has_every_part(live):
    body = classify(live, encode(picture(), "PNG")).json()
    assert body["parts"] == PARTS and body["id"] is None  # nothing left out, nothing kept
    assert body["gradcam"] and body["gradient"] and body["frame"] and body["neighbours"]
    body = classify(live, encode(picture(), "PNG"), frame="false").json()
    assert body["frame"] is None and body["parts"] == ["prediction", "gradcam", "gradient", "neighbours"]


@pytest.mark.parametrize("parts", ["", "prediction", "gradcam", "gradient,neighbours", "frame",
                                   " gradcam , frame,", "gradcam,gradient,neighbours,frame"])
def test_the_parts_asked_are_there_and_the_others_are_null(live, parts):
    response = classify(live, encode(picture(64, 48), "PNG"), parts=parts)
    assert response.status_code == 200, response.text
    body = response.json()
    wanted = {p.strip() for p in parts.split(",") if p.strip()} | {"prediction"}
    assert body["parts"] == [p for p in PARTS if p in wanted]
    for part in ("gradcam", "gradient", "frame", "neighbours"):
        assert (body[part] is not None) == (part in wanted), part
    assert len(body["probabilities"]) == 10 and body["top"] and body["input"].startswith("data:image/png")
    assert body["image"]["crop"]["size"] == 48
    assert (body["id"] is None) == (wanted == set(PARTS))


def test_an_unknown_part_is_refused_before_the_upload_is_read(live):
    response = classify(live, encode(picture(), "PNG"), parts="gradcam,saliency,layers")
    assert response.status_code == 422
    assert response.json()["detail"] == ("parts: unknown parts 'saliency', 'layers'; the parts are prediction, "
                                         "gradcam, gradient, frame, neighbours (comma-separated; the "
                                         "prediction is always there)")
    response = live.http.post("/api/classify", params={"parts": "maps"}, content=b"",
                              headers={"Content-Type": "image/png"})  # an empty file would be a 422 of its own
    assert response.status_code == 422 and "unknown part 'maps'" in response.json()["detail"]
    assert live.http.get("/api/classify/whatever", params={"parts": "frames"}).status_code == 422


def test_the_rest_of_an_upload_comes_as_the_whole_answer_had_it(live):
    paused(live)
    data = encode(picture(300, 200), "JPEG")
    whole = classify(live, data).json()
    first = classify(live, data, parts="gradcam").json()
    assert first["id"] and first["frame"] is None
    response = live.http.get(f"/api/classify/{first['id']}", params={"parts": "frame", "top": 3})
    assert response.status_code == 200, response.text
    assert "classify;dur=" in response.headers["server-timing"]
    more = response.json()
    assert more["parts"] == ["prediction", "frame"] and more["id"] == first["id"] and len(more["top"]) == 3
    for key in ("step", "probabilities", "input", "image", "frame"):
        assert more[key] == whole[key], key
    again = live.http.get(f"/api/classify/{first['id']}", params={"parts": "frame"})
    assert again.status_code == 409 and "sent already" in again.json()["detail"]
    rest = live.http.get(f"/api/classify/{first['id']}").json()  # every part not sent yet
    assert rest["parts"] == ["prediction", "gradient", "neighbours"] and rest["id"] is None
    assert rest["gradient"] == whole["gradient"] and rest["neighbours"] is not None  # (its index may have come)
    gone = live.http.get(f"/api/classify/{first['id']}", params={"parts": "gradcam"})
    assert gone.status_code == 404 and "upload the image again" in gone.json()["detail"]
    live.http.post("/api/run/resume")


@pytest.fixture
def two_a_window(live):
    """The classify limit at 2 uploads per 20 s window (server/limits.py)."""
    saved = dict(live.app.state.limits)
    tight = {"classify_per_minute": 6, "classify_burst": 2}
    live.app.state.limits.update(classify=rate_limits(live.app.state.settings.model_copy(update=tight))["classify"])
    yield live
    live.app.state.limits.update(saved)


def test_fetching_the_rest_spends_none_of_the_clients_classifications(two_a_window):
    live = two_a_window
    first = classify(live, encode(picture(), "PNG"), parts="prediction").json()
    for part in ("gradcam", "gradient", "frame", "neighbours"):
        assert live.http.get(f"/api/classify/{first['id']}", params={"parts": part}).status_code == 200, part
    assert classify(live, encode(picture(), "PNG"), parts="prediction").status_code == 200  # the second
    assert classify(live, encode(picture(), "PNG")).status_code == 429
