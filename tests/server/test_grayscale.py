"""A live run on one-channel 28x28 images (MNIST's IDX layout): state, images, uploads and probes."""
from __future__ import annotations

import base64
import io
import time

import numpy as np
from PIL import Image

from support import TIMEOUT, make_digit_dataset, write_idx_dataset
from convscope.protocol import decode_probe


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def test_a_grayscale_run_shows_and_classifies_in_its_own_format(start_server, tmp_path):
    digits = make_digit_dataset()
    with start_server(write_idx_dataset(digits, tmp_path / "digits")) as live:
        run = live.wait_for(lambda run: run["status"] == "training")
        dataset = run["dataset"]
        assert (dataset["channels"], dataset["height"], dataset["width"]) == (1, 28, 28)
        assert dataset["classes"] == [str(c) for c in range(10)]  # MNIST's names: its labels
        layers = live.http.get("/api/run/model").json()["spec"]
        assert layers[0] == {"type": "input", "channels": 1, "height": 28, "width": 28}  # convnetjs, fitted

        image = Image.open(io.BytesIO(live.http.get("/api/images/test/3.png").content))
        assert image.mode == "L" and np.array_equal(np.asarray(image), digits.test_images[3, ..., 0])

        paper = np.full((200, 200, 3), 255, np.uint8)  # a dark bar drawn on white paper
        paper[125:150, 28:170] = 0  # rows 17.5 to 21 of 28
        deadline = time.monotonic() + TIMEOUT
        while (answer := live.http.post("/api/classify", files={"file": ("bar.png", png(paper))})).status_code != 200:
            assert answer.status_code == 503 and time.monotonic() < deadline, answer.text  # weights on their way
            time.sleep(0.2)
        result = answer.json()
        assert len(result["probabilities"]) == 10 and result["top"][0]["class"] in dataset["classes"]
        assert any("inverted" in note for note in result["image"]["notes"])
        shown = Image.open(io.BytesIO(base64.b64decode(result["input"].split(",", 1)[1])))
        assert shown.mode == "L" and shown.size == (28, 28)
        assert np.asarray(shown)[0, 0] == 0 and np.asarray(shown)[19, 14] > 200  # light bar on black
        header, payload = decode_probe(base64.b64decode(result["frame"]))
        first = next(b for b in header.blobs if b.kind == "input")
        assert (first.height, first.width, first.channels) == (28, 28, 1)
        assert bytes(payload[first.offset:first.offset + first.length]) == np.asarray(shown).tobytes()
