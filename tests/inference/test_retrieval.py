"""The feature index: an image finds itself, features are unit vectors, search is exact top-k."""

from __future__ import annotations

import numpy as np
import torch

from convscope.inference import FeatureIndex, embed, feature_layer
from convscope.train.inputs import CIFAR10
from convscope.inference.retrieval import MAX_DIM
from convscope.models import build_model, get_preset


def images(n: int, seed: int = 0) -> torch.Tensor:
    pixels = np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    return torch.cat([CIFAR10.to_tensor(p) for p in pixels])


def test_features_are_the_classifiers_input_as_unit_vectors():
    torch.manual_seed(0)
    model = build_model(get_preset("convnetjs").spec).eval()
    assert model.spec[feature_layer(model)]["type"] == "fc"
    x = images(5)
    features = embed(model, x)
    assert features.shape == (5, 320)  # 20 channels x 4 x 4 go into the fc layer
    torch.testing.assert_close(features.norm(dim=1), torch.ones(5))
    inputs = []
    hook = model.layers[feature_layer(model)].register_forward_pre_hook(lambda m, args: inputs.append(args[0]))
    model(x)
    hook.remove()
    torch.testing.assert_close(features, F_normalize(inputs[0].flatten(1)))


def F_normalize(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x, dim=1)


def test_an_image_is_its_own_nearest_neighbour():
    torch.manual_seed(0)
    model = build_model(get_preset("convnetjs").spec).eval()
    x = images(300, seed=1)
    index = FeatureIndex.build(model, x, step=7, batch=64)  # batches do not change the features
    assert index.features.dtype == torch.float16
    torch.testing.assert_close(index.features.float(), embed(model, x), atol=1e-3, rtol=0)
    for i in (0, 123, 299):
        hits = index.search(embed(model, x[i:i + 1]), k=5)
        assert hits[0][0] == i and abs(hits[0][1] - 1) < 2e-3
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert len(index.search(embed(model, x[:1]), k=1000)) == 300


def test_wide_features_are_projected_the_same_way_every_time():
    spec = [{"type": "input", "channels": 3, "height": 32, "width": 32}, {"type": "fc", "units": 10},
            {"type": "softmax"}]
    model = build_model(spec)
    x = images(3)
    a, b = embed(model, x), embed(build_model(spec), x)  # other weights, same (identity) features
    assert a.shape == (3, MAX_DIM)
    torch.testing.assert_close(a, b)
    # cosine similarities survive the projection roughly
    raw = torch.nn.functional.normalize(x.flatten(1), dim=1)
    assert torch.allclose(a @ a.T, raw @ raw.T, atol=0.15)
