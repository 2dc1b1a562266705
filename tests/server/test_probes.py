"""Probes: hooks -> uint8 tiles, checked against the activations and gradients torch computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convscope.models import PRESETS, build_model
from convscope.protocol import ProbeSource, decode_probe
from convscope.probes import probe


def tiles(frame: bytes) -> dict:
    """(layer, kind) -> (blob, its real values decoded from bytes)."""
    header, payload = decode_probe(frame)
    out = {}
    for b in header.blobs:
        raw = np.frombuffer(payload[b.offset:b.offset + b.length], np.uint8).astype(np.float32)
        shape = (b.count, b.height, b.width) + ((3,) if b.channels == 3 else ())
        out[b.layer, b.kind] = b, (b.min + raw / 255 * (b.max - b.min)).reshape(shape)
    return out


@pytest.fixture
def model_after_a_step():
    torch.manual_seed(0)
    model = build_model(PRESETS["convnetjs"].spec)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    F.cross_entropy(model(x), y).backward()
    return model


def test_probe_tiles_are_the_activations_gradients_and_filters(model_after_a_step):
    model = model_after_a_step
    image, label = torch.randn(1, 3, 32, 32), 3
    grads_before = [p.grad.clone() for p in model.parameters()]
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    frame = probe(model, image, pixels, label, step=5, source=ProbeSource(source="test", index=2))
    got = tiles(frame)
    assert all(torch.equal(a, p.grad) for a, p in zip(grads_before, model.parameters()))  # untouched

    acts = []  # the reference: the same forward by hand, and torch's gradients
    x = image.requires_grad_(False)
    for layer in model.layers:
        x = layer(x)
        x.retain_grad() if x.requires_grad else None
        acts.append(x)
    F.cross_entropy(model.layers[-1](acts[-2]), torch.tensor([label])).backward()

    conv = acts[1][0].detach()
    blob, values = got[1, "activation"]
    step = (blob.max - blob.min) / 255
    assert blob.count == 16 and np.abs(values - conv.numpy()).max() <= step / 2 + 1e-6
    blob, values = got[4, "activation_grad"]
    assert blob.min == -blob.max and np.abs(values - acts[4].grad[0].numpy()).max() <= blob.max / 255 * 1.001
    blob, values = got[1, "filter"]  # RGB filters as (16, 5, 5, 3)
    weights = model.layers[1].weight.detach().permute(0, 2, 3, 1).numpy()
    assert np.abs(values - weights).max() <= (blob.max - blob.min) / 510 * 1.001
    blob, values = got[4, "filter_grad"]  # the training step's gradients, (out, in) pairs
    assert np.abs(values - grads_before[2].reshape(-1, 5, 5)[:64].numpy()).max() <= blob.max / 255 * 1.001
    _, probabilities = got[11, "activation"]  # softmax: probabilities, not logits
    assert abs(probabilities.sum() - 1) < 0.05
    _, raw = got[-1, "input"]
    assert np.array_equal(raw[0].round().astype(np.uint8), pixels)


def test_big_networks_get_fewer_tiles_per_blob_to_fit_the_budget():
    model = build_model(PRESETS["vgg-mini"].spec)
    frame = probe(model, torch.randn(1, 3, 32, 32), np.zeros((32, 32, 3), np.uint8), 0, 0,
                  ProbeSource(source="test", index=0), budget=100_000)
    header, payload = decode_probe(frame)
    assert len(payload) <= 100_000 and max(b.count for b in header.blobs) < 64
