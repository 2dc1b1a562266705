"""Probes of user models: captures checked against the same forward by hand, frames decoded."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from convscope.protocol import MAX_PROBE_BYTES, ProbeSource, decode_probe
from convscope.watched.layers import layer_table
from convscope.watched.pixels import ProbeFormat
from convscope.watched.probe import capture, probe_frame

SOURCE = ProbeSource(source="test", index=0)


def close(a: torch.Tensor, b: torch.Tensor, msg: str = "") -> None:
    """torch.testing.assert_close's float32 tolerances, without its first call's imports (seconds)."""
    assert a.shape == b.shape and torch.allclose(a, b, rtol=1.3e-6, atol=1e-5), msg


def blobs(frame: bytes) -> dict:
    """(layer, kind) -> (blob, its real values decoded from bytes)."""
    header, payload = decode_probe(frame)
    out = {}
    for b in header.blobs:
        raw = np.frombuffer(payload[b.offset:b.offset + b.length], np.uint8).astype(np.float32)
        shape = (b.count, b.height, b.width) + ((3,) if b.channels == 3 else ())
        out[b.layer, b.kind] = b, (b.min + raw / 255 * (b.max - b.min)).reshape(shape)
    return out


def by_hand(model, x: torch.Tensor, target: int) -> dict:
    """The TinyResNet's forward without in-place ops, on a copy in eval mode, with the gradients of
    the loss and of the target's score with respect to what capture keeps."""
    m = copy.deepcopy(model).eval()
    x = x.clone().requires_grad_(True)
    got = {"stem": m.stem(x)}
    h = F.relu(got["stem"])
    for name in ("layer1", "layer2"):
        block = getattr(m, name)
        got[f"{name}.relu"] = F.relu(block.bn1(block.conv1(h)))
        got[f"{name}.bn2"] = block.bn2(block.conv2(got[f"{name}.relu"]))
        h = F.relu(got[f"{name}.bn2"] + block.shortcut(h))
    got["fc"] = m.fc(m.pool(h).flatten(1))
    names = list(got)
    loss = F.cross_entropy(got["fc"], torch.tensor([target]))
    grads = dict(zip(names, torch.autograd.grad(loss, [got[n] for n in names], retain_graph=True)))
    score_x, score_maps = torch.autograd.grad(got["fc"][0, target], [x, got["layer2.bn2"]])
    return {"outputs": got, "grads": grads, "score_x": score_x[0], "score_maps": score_maps[0]}


def test_in_place_ops_do_not_change_what_is_captured(resnet):
    layers = layer_table(resnet, torch.randn(2, 3, 32, 32))
    index = {layer.name: layer.index for layer in layers}
    torch.manual_seed(1)
    x = torch.randn(1, 3, 32, 32)
    cap = capture(resnet, layers, x, target=3)
    ref = by_hand(resnet, x, 3)
    for name, expected in ref["outputs"].items():
        close(cap.outputs[index[name]], expected.detach(), msg=name)
        close(cap.grads[index[name]], ref["grads"][name], msg=name)
    assert (cap.outputs[index["stem"]] < 0).any()  # the conv's own output, not the ReLU'd one
    assert (cap.outputs[index["layer2.bn2"]] < 0).any()  # before `out += identity` and F.relu
    close(cap.logits, ref["outputs"]["fc"].detach())
    close(cap.outputs[index["output"]], cap.logits)  # the softmax row: its scores
    close(cap.grads[index["output"]], ref["grads"]["fc"])
    assert all(t.device.type == "cpu" and t.dtype == torch.float32 for t in cap.outputs + cap.grads)


class Centre(nn.Module):
    """Subtracts the mean from its input, in place (as some models normalise)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x -= x.mean()
        return x


def test_in_place_ops_on_the_input_change_neither_the_users_image_nor_the_capture():
    torch.manual_seed(0)
    model = nn.Sequential(Centre(), nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    image = torch.rand(1, 1, 8, 8)
    kept = image.clone()
    layers = layer_table(model, image)
    cap = capture(model, layers, image, gradient=True)
    assert torch.equal(image, kept)
    close(cap.outputs[0], kept - kept.mean())
    close(cap.outputs[1], model[1](kept - kept.mean()).detach())
    assert cap.gradient.shape == (8, 8)


def test_the_users_gradients_and_modes_are_untouched(resnet):
    resnet.fc.bias.grad = None  # one parameter without a gradient: it must stay without
    resnet.layer1.eval()
    before = {name: p.grad.clone() for name, p in resnet.named_parameters() if p.grad is not None}
    state = {k: v.clone() for k, v in resnet.state_dict().items()}
    layers = layer_table(resnet, torch.randn(2, 3, 32, 32))
    image = torch.randn(1, 3, 32, 32)
    kept = image.clone()
    capture(resnet, layers, image, gradcam=True, gradient=True)
    for name, p in resnet.named_parameters():
        assert (p.grad is None) == (name not in before), name
        if p.grad is not None:
            assert torch.equal(p.grad, before[name]), name
    assert all(torch.equal(v, state[k]) for k, v in resnet.state_dict().items())  # no statistics updated
    assert resnet.training and not resnet.layer1.training and resnet.layer2.training
    assert all(not m._forward_hooks for m in resnet.modules())
    assert torch.equal(image, kept) and not image.requires_grad


def test_gradcam_and_the_input_gradient_match_the_maths_by_hand(resnet):
    layers = layer_table(resnet, torch.randn(2, 3, 32, 32))
    x = torch.randn(1, 3, 32, 32)
    cap = capture(resnet, layers, x, gradcam=True, gradient=True)
    assert layers[cap.gradcam_layer].name == "layer2.bn2"  # the last conv's batchnorm: its maps
    ref = by_hand(resnet, x, cap.target)
    assert cap.target == int(ref["outputs"]["fc"].argmax())
    maps = ref["outputs"]["layer2.bn2"][0].detach()
    cam = F.relu((ref["score_maps"].mean((1, 2))[:, None, None] * maps).sum(0))
    cam = F.interpolate(cam[None, None], size=(32, 32), mode="bilinear", align_corners=False)[0, 0]
    assert cap.gradcam.shape == (32, 32) and float(cap.gradcam.min()) >= 0 and float(cap.gradcam.max()) == 1
    close(cap.gradcam, cam / cam.max())
    plain = ref["score_x"].abs().amax(0)
    close(cap.gradient, plain / plain.max())
    plain_cap = capture(resnet, layers, x)
    assert plain_cap.gradcam is plain_cap.gradcam_layer is plain_cap.gradient is None


def test_a_lenet_frame_holds_every_layer_and_its_filters(lenet):
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    F.cross_entropy(lenet(x), y).backward()
    layers = layer_table(lenet, x)
    image = x[:1]
    cap = capture(lenet, layers, image, target=int(y[0]))
    pixels = ProbeFormat.of(image).pixels(image)[0]
    got = blobs(probe_frame(layers, cap, pixels, 7, SOURCE))
    assert {layer for layer, _ in got} == set(range(-1, 13))
    blob, raw = got[-1, "input"]
    assert (blob.height, blob.width, blob.channels) == (28, 28, 1) and np.array_equal(raw[0].round(), pixels[..., 0])
    for layer in layers:
        blob, values = got[layer.index, "activation"]
        shape = layer.row.output_shape
        assert (blob.count, blob.height, blob.width) == (shape if len(shape) == 3 else (1, 1, shape[0]))
        shown = cap.logits.softmax(1) if layer.module is None else cap.outputs[layer.index]  # probabilities
        expected = shown[0].reshape(values.shape).numpy()
        assert np.abs(values - expected).max() <= (blob.max - blob.min) / 510 + 1e-6, layer.name
        assert (layer.index, "activation_grad") in got
    _, probabilities = got[12, "activation"]
    assert abs(probabilities.sum() - 1) < 0.02
    blob, values = got[0, "filter"]  # one input channel: one grey tile per filter
    assert (blob.count, blob.height, blob.width, blob.channels) == (6, 5, 5, 1)
    assert np.abs(values - lenet[0].weight.detach()[:, 0].numpy()).max() <= (blob.max - blob.min) / 510 + 1e-6
    blob, values = got[3, "filter_grad"]  # the training step's, (filter, input channel) pairs
    assert (blob.count, blob.min) == (64, -blob.max)
    assert np.abs(values - lenet[3].weight.grad.reshape(-1, 5, 5)[:64].numpy()).max() <= blob.max / 255 * 1.001
    assert {kind for layer, kind in got if layer not in (0, 3)} <= {"input", "activation", "activation_grad"}


def test_colour_filters_and_no_filter_gradients_before_a_step():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True), nn.Conv2d(4, 3, 3), nn.Flatten(),
                          nn.Linear(3 * 92 * 92, 5))  # a 3x96x96 input
    x = torch.randn(1, 3, 96, 96)
    layers = layer_table(model, x)
    cap = capture(model, layers, x, gradcam=True)
    assert cap.gradcam.shape == (96, 96) and layers[cap.gradcam_layer].name == "2"
    got = blobs(probe_frame(layers, cap, ProbeFormat.of(x).pixels(x)[0], 0, SOURCE))
    assert got[-1, "input"][0].height == 96 and got[-1, "input"][0].channels == 3
    blob, values = got[0, "filter"]  # the first conv takes RGB: one colour tile per filter
    assert (blob.count, blob.height, blob.width, blob.channels) == (4, 3, 3, 3)
    np.testing.assert_allclose(values, model[0].weight.detach().permute(0, 2, 3, 1).numpy(),
                               atol=(blob.max - blob.min) / 510 + 1e-6)
    assert got[2, "filter"][0].channels == 1  # three input channels, but not the first conv
    assert not [kind for _, kind in got if kind == "filter_grad"]


def test_a_model_without_conv_layers_has_no_filters_and_no_gradcam(mlp):
    layers = layer_table(mlp, torch.randn(2, 1, 28, 28))
    cap = capture(mlp, layers, torch.randn(1, 1, 28, 28), target=4, gradcam=True, gradient=True)
    assert cap.target == 4 and cap.gradcam is None and cap.gradcam_layer is None and cap.gradient.shape == (28, 28)
    got = blobs(probe_frame(layers, cap, np.zeros((28, 28, 1), np.uint8), 0, SOURCE))
    assert {kind for _, kind in got} == {"input", "activation", "activation_grad"}
    assert got[1, "activation"][0].width == 32 and got[5, "activation"][0].width == 10
    with pytest.raises(ValueError, match="target 10 is not one of the model's 10 classes"):
        capture(mlp, layers, torch.randn(1, 1, 28, 28), target=10)


def test_sequence_outputs_are_one_map_each():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(1, 2), nn.Linear(28, 6), nn.Flatten(), nn.Linear(28 * 6, 3))  # (N, 28, 28)
    layers = layer_table(model, torch.randn(1, 1, 28, 28))
    assert layers[1].row.output_shape == (28, 6) and layers[1].row.macs == 28 * 28 * 6
    got = blobs(probe_frame(layers, capture(model, layers, torch.randn(1, 1, 28, 28)),
                            np.zeros((28, 28, 1), np.uint8), 0, SOURCE))
    blob, _ = got[1, "activation_grad"]
    assert (blob.count, blob.height, blob.width) == (1, 28, 6)


def wide() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 256, 3, padding=1), nn.ReLU(), nn.Conv2d(256, 256, 1), nn.ReLU(),
                         nn.Conv2d(256, 256, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 10))


def test_a_wide_model_gets_fewer_tiles_and_fits_the_frame():
    model = wide()
    x = torch.randn(1, 3, 32, 32)
    F.cross_entropy(model(x), torch.tensor([1])).backward()
    layers = layer_table(model, x)
    cap = capture(model, layers, x[:1])
    frame = probe_frame(layers, cap, ProbeFormat.of(x).pixels(x)[0], 0, SOURCE)
    header, _ = decode_probe(frame)
    assert len(frame) <= MAX_PROBE_BYTES
    counts = {(b.layer, b.kind): b.count for b in header.blobs}
    assert 1 < counts[0, "activation"] < 64 and counts[2, "filter_grad"] == counts[0, "activation"]
    assert len(counts) == 1 + 10 * 2 + 3 * 2  # nothing left out: the tile cap made room


def test_when_even_one_tile_each_is_too_much_gradients_of_filters_go_first():
    model = wide()
    x = torch.randn(1, 3, 16, 16)
    F.cross_entropy(model(x), torch.tensor([1])).backward()
    layers = layer_table(model, x)
    cap = capture(model, layers, x)
    frame = probe_frame(layers, cap, ProbeFormat.of(x).pixels(x)[0], 0, SOURCE, budget=7_000)
    header, _ = decode_probe(frame)
    kinds = [b.kind for b in header.blobs]
    assert len(frame) <= 7_000
    assert kinds.count("input") == 1 and kinds.count("activation") == 10  # the maps first
    assert 0 < kinds.count("activation_grad") < 10 and "filter" not in kinds and "filter_grad" not in kinds
