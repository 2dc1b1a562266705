"""build_model(): the module agrees with the layer table, layer by layer, for every type and preset."""

import pytest
import torch
from torch import nn

from convscope.models import PRESETS, SpecError, build_model, layer_table, totals
from convscope.models.layers import TYPES
from convscope.models.modules import Inception, Residual

FC10 = {"type": "fc", "units": 10}
LAYERS = [
    {"type": "input", "channels": 3, "height": 20, "width": 24},
    {"type": "conv", "filters": 8, "size": 3, "stride": 2, "pad": 1, "bias": False},
    {"type": "pool", "mode": "avg", "size": 3, "stride": 1, "pad": 1},
    {"type": "batchnorm"}, {"type": "relu"}, {"type": "sigmoid"}, {"type": "tanh"}, {"type": "gelu"},
    {"type": "whiten", "size": 2},
    {"type": "nin", "filters": 6, "size": 3, "pad": 1},
    {"type": "residual", "activation": "relu", "layers": [
        {"type": "conv", "filters": 12, "size": 3, "stride": 2, "pad": 1}, {"type": "batchnorm"}]},
    {"type": "residual", "layers": [{"type": "conv", "filters": 12, "size": 1}]},
    {"type": "inception", "branches": [
        [{"type": "conv", "filters": 4, "size": 1}],
        [{"type": "residual", "layers": [{"type": "relu"}]}, {"type": "conv", "filters": 5, "size": 3, "pad": 1}],
        [{"type": "pool", "size": 3, "stride": 1, "pad": 1}]]},
    {"type": "dropout", "p": 0.1},
    {"type": "pool"},
    {"type": "fc", "units": 16}, {"type": "batchnorm"}, {"type": "dropout"},
    {"type": "fc", "units": 10, "bias": False}, {"type": "scale", "factor": 0.125}, {"type": "softmax"},
]
SPECS = {
    "every-type": LAYERS,
    "flatten-globalpool": [{"type": "conv", "filters": 4, "size": 3}, {"type": "globalpool", "mode": "max"},
                           FC10],
    "flatten": [{"type": "pool", "size": 4}, {"type": "flatten"}, FC10],
    **{name: preset.spec for name, preset in PRESETS.items()},
}


def test_every_type_is_checked_against_torch():
    """A new layer type needs a layer in SPECS: its module is then checked against its table rows."""
    assert {layer["type"] for spec in SPECS.values() for layer in spec} == set(TYPES)


def find(net: nn.Module, path: tuple[int, ...]) -> nn.Module:
    """The module of the table row at `path`."""
    module = net.layers[path[0]]
    for index in path[1:]:
        if isinstance(module, Residual):
            module = module.body[index] if index < len(module.body) else module.shortcut
        elif isinstance(module, Inception):
            module = module.branches[index]
        else:
            module = module[index]
    return module


@pytest.mark.parametrize("name", SPECS)
def test_module_matches_the_table(name):
    spec = SPECS[name]
    torch.manual_seed(0)
    net, rows = build_model(spec).eval(), layer_table(spec)
    assert len(net.layers) == len(spec)
    seen = {}
    hooks = [find(net, row.path).register_forward_hook(
        lambda module, args, out, path=row.path: seen.__setitem__(path, tuple(out.shape))) for row in rows]
    with torch.no_grad():
        logits = net(torch.randn(2, *net.input_shape))
    for hook in hooks:
        hook.remove()
    assert logits.shape == (2, 10)
    assert {row.path: (2, *row.output_shape) for row in rows} == seen
    params, _ = totals(rows)
    assert sum(p.numel() for p in net.parameters()) == params
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == sum(r.trainable for r in rows if r.depth == 0)


def test_network_returns_logits_and_keeps_the_normalised_spec():
    net = build_model([{"type": "fc", "units": 10}, {"type": "softmax"}])
    assert isinstance(net.layers[1], nn.Identity)
    assert net.spec == [{"type": "fc", "units": 10, "bias": True}, {"type": "softmax"}]
    logits = net(torch.full((1, 3, 32, 32), 5.0))
    assert not torch.allclose(logits.sum(), torch.tensor(1.0))


def test_backward_reaches_every_trainable_parameter():
    net = build_model(LAYERS)
    net(torch.randn(2, 3, 20, 24)).sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)
    assert all(not p.requires_grad for p in net.layers[8].parameters())  # whiten


def test_wrong_input_shape_is_a_clear_error():
    net = build_model([FC10])
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 3, 32, 32\), got \(1, 1, 28, 28\)"):
        net(torch.zeros(1, 1, 28, 28))


def test_invalid_spec_raises_spec_error():
    with pytest.raises(SpecError):
        build_model([{"type": "conv", "filters": 8}])
