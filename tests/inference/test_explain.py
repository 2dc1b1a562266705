"""classify: probabilities, Grad-CAM and input gradients, checked against PyTorch done by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convscope.inference import classify, gradcam_layer
from convscope.train.inputs import CIFAR10
from convscope.models import build_model, get_preset
from convscope.probes import capture


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(get_preset("convnetjs").spec).eval()


@pytest.fixture(scope="module")
def pixels():
    return np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def test_probabilities_sum_to_one_and_match_the_model(model, pixels):
    result = classify(model, pixels)
    assert result.probabilities.shape == (10,)
    assert abs(float(result.probabilities.sum()) - 1) < 1e-5
    with torch.no_grad():
        expected = model(CIFAR10.to_tensor(pixels)).softmax(1)[0]
    torch.testing.assert_close(result.probabilities, expected)
    assert result.target == int(expected.argmax())


def test_saliency_maps_have_the_inputs_shape_and_range(model, pixels):
    result = classify(model, pixels)
    for name in ("gradcam", "gradient"):
        values = getattr(result, name)
        assert values.shape == (32, 32), name
        assert float(values.min()) >= 0 and abs(float(values.max()) - 1) < 1e-6, name


def test_the_same_image_gives_the_same_answer(model, pixels):
    a, b = classify(model, pixels), classify(model, pixels)
    assert torch.equal(a.probabilities, b.probabilities)
    assert torch.equal(a.gradcam, b.gradcam) and torch.equal(a.gradient, b.gradient)


def test_gradcam_and_the_input_gradient_match_pytorch_by_hand(model, pixels):
    target = 3
    result = classify(model, pixels, target=target)
    layer = gradcam_layer(model)
    assert model.spec[layer]["type"] == "relu" and model.spec[layer - 1]["type"] == "conv"  # after the last conv
    x = CIFAR10.to_tensor(pixels).requires_grad_(True)
    maps = []
    hook = model.layers[layer].register_forward_hook(lambda m, i, out: maps.append(out))
    logits = model(x)
    hook.remove()
    grad_x, grad_maps = torch.autograd.grad(logits[0, target], [x, maps[0]])
    weights = grad_maps[0].mean((1, 2))
    cam = F.relu((weights[:, None, None] * maps[0][0]).sum(0)).detach()
    cam = F.interpolate(cam[None, None], size=(32, 32), mode="bilinear", align_corners=False)[0, 0]
    torch.testing.assert_close(result.gradcam, cam / cam.max())
    plain = grad_x[0].abs().amax(0)
    torch.testing.assert_close(result.gradient, plain / plain.max())


def test_layer_gradients_are_those_of_the_probes(model, pixels):
    result = classify(model, pixels)
    outputs, grads = capture(model, CIFAR10.to_tensor(pixels), result.target)
    assert len(result.activations) == len(outputs) == len(model.layers)
    for i, (mine, theirs) in enumerate(zip(result.activation_grads, grads)):
        torch.testing.assert_close(result.activations[i], outputs[i])
        if theirs is not None:  # the probe's input needs no gradient; the upload's has one
            torch.testing.assert_close(mine, theirs)


def test_classifying_leaves_the_model_as_it_was():
    torch.manual_seed(0)
    spec = [{"type": "input", "channels": 3, "height": 32, "width": 32},
            {"type": "conv", "filters": 4, "size": 3, "pad": 1}, {"type": "batchnorm"}, {"type": "relu"},
            {"type": "pool", "size": 2}, {"type": "dropout", "p": 0.5}, {"type": "fc", "units": 10},
            {"type": "softmax"}]
    model = build_model(spec).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pixels = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    a, b = classify(model, pixels), classify(model, pixels)
    assert torch.equal(a.probabilities, b.probabilities)  # eval mode: no dropout
    assert model.training  # put back
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), f"{k} changed"  # batchnorm statistics included
    assert all(p.grad is None for p in model.parameters())
    assert gradcam_layer(model) == 3  # the conv, its batchnorm and relu


def test_without_conv_layers_there_is_no_gradcam():
    spec = [{"type": "input", "channels": 3, "height": 32, "width": 32}, {"type": "fc", "units": 10},
            {"type": "softmax"}]
    result = classify(build_model(spec), np.zeros((32, 32, 3), np.uint8))
    assert result.gradcam is None and result.gradcam_layer is None
    assert result.gradient.shape == (32, 32)


@pytest.mark.parametrize("asked", [{}, {"gradient"}, {"gradcam"}, {"layer_grads"}, {"gradient", "gradcam"},
                                   {"gradcam", "layer_grads"}])
@pytest.mark.parametrize("frozen", [False, True], ids=["trainable", "frozen"])  # frozen: the server's copy
def test_only_the_maps_asked_for_are_computed_and_they_are_the_same(model, pixels, asked, frozen):
    full = classify(model, pixels)
    mine = build_model(get_preset("convnetjs").spec).eval().requires_grad_(not frozen)
    mine.load_state_dict(model.state_dict())
    result = classify(mine, pixels, gradient="gradient" in asked, gradcam="gradcam" in asked,
                      layer_grads="layer_grads" in asked)
    assert torch.equal(result.probabilities, full.probabilities) and result.target == full.target
    for name in ("gradcam", "gradient"):
        if name in asked:
            torch.testing.assert_close(getattr(result, name), getattr(full, name))
        else:
            assert getattr(result, name) is None, name
    assert (result.gradcam_layer is None) == ("gradcam" not in asked)
    for mine_, theirs in zip(result.activations, full.activations):
        torch.testing.assert_close(mine_, theirs)
    if "layer_grads" in asked:
        for mine_, theirs in zip(result.activation_grads, full.activation_grads):
            assert (mine_ is None) == (theirs is None)
            if theirs is not None:
                torch.testing.assert_close(mine_, theirs)
    else:
        assert result.activation_grads is None
    assert all(p.grad is None for p in mine.parameters())


def test_classify_averages_the_probabilities_as_the_test_set_is_evaluated(model, pixels):
    """With flip_tta and tta_shift, the probabilities are the TTA average of the logits; the maps
    stay the image's own."""
    from convscope.train.tta import tta_logits

    plain = classify(model, pixels, layer_grads=False)
    averaged = classify(model, pixels, layer_grads=False, flip_tta=True, tta_shift=1)
    x = CIFAR10.to_tensor(pixels)
    with torch.no_grad():
        expected = tta_logits(model, x, flip=True, shift=1).softmax(1)[0]
    assert torch.allclose(averaged.probabilities, expected, atol=1e-6)
    assert not torch.allclose(averaged.probabilities, plain.probabilities, atol=1e-4)
    assert torch.equal(averaged.gradcam, plain.gradcam) and torch.equal(averaged.gradient, plain.gradient)
