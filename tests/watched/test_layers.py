"""The layer table of user models: rows, shapes, parameters and MACs worked out by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from convscope.watched.layers import layer_table, pick_layers


def rows(layers):
    return [(layer.row.name, layer.row.type, layer.row.output_shape, layer.row.params, layer.row.macs)
            for layer in layers]


def test_lenet_rows_have_the_shapes_params_and_macs_worked_out_by_hand(lenet):
    layers = layer_table(lenet, torch.randn(4, 1, 28, 28))
    assert rows(layers) == [
        ("0: Conv2d 1→6, 5x5, pad 2", "conv", (6, 28, 28), 6 * 25 + 6, 6 * 28 * 28 * 25),  # 156, 117600
        ("1: Sigmoid", "sigmoid", (6, 28, 28), 0, 0),
        ("2: AvgPool2d 2x2", "pool", (6, 14, 14), 0, 0),
        ("3: Conv2d 6→16, 5x5", "conv", (16, 10, 10), 16 * 6 * 25 + 16, 16 * 10 * 10 * 6 * 25),
        ("4: Sigmoid", "sigmoid", (16, 10, 10), 0, 0),
        ("5: AvgPool2d 2x2", "pool", (16, 5, 5), 0, 0),
        ("6: Flatten", "flatten", (400,), 0, 0),
        ("7: Linear 400→120", "fc", (120,), 400 * 120 + 120, 400 * 120),
        ("8: Sigmoid", "sigmoid", (120,), 0, 0),
        ("9: Linear 120→84", "fc", (84,), 120 * 84 + 84, 120 * 84),
        ("10: Sigmoid", "sigmoid", (84,), 0, 0),
        ("11: Linear 84→10", "fc", (10,), 84 * 10 + 10, 84 * 10),
        ("output: softmax over the classes", "softmax", (10,), 0, 0)]
    assert [layer.index for layer in layers] == [layer.row.path[0] for layer in layers] == list(range(13))
    assert all(layer.row.depth == 0 and layer.row.trainable == layer.row.params for layer in layers)
    assert [layer.name for layer in layers][:2] == ["0", "1"] and layers[-1].name == "output"
    assert layers[0].module is lenet[0] and layers[-1].module is None


def test_resnet_rows_skip_identity_and_count_batchnorm(resnet):
    layers = layer_table(resnet, torch.randn(2, 3, 32, 32))
    assert [layer.name for layer in layers] == [
        "stem", "relu", "layer1.conv1", "layer1.bn1", "layer1.relu", "layer1.conv2", "layer1.bn2",  # no Identity
        "layer2.shortcut.0", "layer2.shortcut.1", "layer2.conv1", "layer2.bn1", "layer2.relu", "layer2.conv2",
        "layer2.bn2", "pool", "fc", "output"]
    by_name = {layer.name: layer.row for layer in layers}
    assert by_name["stem"].macs == 8 * 32 * 32 * 3 * 9 and by_name["stem"].params == 8 * 27 + 8
    assert by_name["layer2.shortcut.0"].name == "layer2.shortcut.0: Conv2d 8→16, 1x1, stride 2"
    assert by_name["layer2.shortcut.0"].macs == 16 * 16 * 16 * 8  # a 1x1 conv: one MAC per input channel
    assert by_name["layer2.conv1"].name == "layer2.conv1: Conv2d 8→16, 3x3, stride 2, pad 1"
    assert (by_name["layer2.bn2"].type, by_name["layer2.bn2"].params, by_name["layer2.bn2"].macs) == (
        "batchnorm", 2 * 16, 16 * 16 * 16)  # one MAC per output value
    assert (by_name["layer1.relu"].type, by_name["layer1.relu"].name) == ("relu", "layer1.relu: ReLU")
    assert (by_name["pool"].type, by_name["pool"].output_shape) == ("pool", (16, 1, 1))
    assert by_name["fc"].output_shape == (10,) and by_name["output"].output_shape == (10,)


def test_names_pick_blocks_whose_macs_are_their_convs_and_fcs(resnet):
    layers = layer_table(resnet, torch.randn(2, 3, 32, 32), names=["layer2", "fc"])
    assert [layer.name for layer in layers] == ["layer2", "fc", "output"]
    block = layers[0].row
    assert (block.name, block.type, block.output_shape) == ("layer2: Block", "block", (16, 16, 16))
    assert block.params == 8 * 16 + 32 + 8 * 16 * 9 + 32 + 16 * 16 * 9 + 32  # its convs and batchnorms
    assert block.macs == 16 * 256 * 8 + 16 * 256 * 8 * 9 + 16 * 256 * 16 * 9  # shortcut, conv1, conv2
    assert layers[0].module is resnet.layer2 and layers[1].index == 1


def test_an_unknown_name_lists_the_names_there_are():
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(30)])
    with pytest.raises(ValueError, match="no module named 'conv1'") as err:
        pick_layers(model, ["conv1"])
    assert "0, 1, 2" in str(err.value) and ", 19, ... (30 in all)" in str(err.value) and "29" not in str(err.value)


def test_frozen_parameters_are_not_trainable(lenet):
    lenet[0].bias.requires_grad_(False)
    row = layer_table(lenet, torch.randn(1, 1, 28, 28))[0].row
    assert (row.params, row.trainable) == (156, 150)


class Spare(nn.Module):
    """A shared ReLU called twice, a module never called, an empty Sequential, a Linear over (N, T, F)
    and an LSTM."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.act = nn.ReLU()
        self.unused = nn.Linear(3, 3)
        self.skip = nn.Sequential()  # an empty one: its input as it is
        self.lstm = nn.LSTM(26, 16, batch_first=True)  # output: (out, (h, c))
        self.proj = nn.Linear(16, 8)
        self.fc = nn.Linear(4 * 26 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.skip(self.act(self.conv(x)))  # (N, 4, 26, 26)
        seq, _ = self.lstm(h.flatten(1, 2))  # (N, 104, 16): 104 steps of 26
        return self.fc(self.act(self.proj(seq)).flatten(1))


def test_odd_modules_shared_unused_tuples_and_sequences():
    model = Spare()
    layers = layer_table(model, torch.randn(1, 1, 28, 28))
    by_name = {layer.name: layer.row for layer in layers}
    assert list(by_name) == ["conv", "act", "lstm", "proj", "fc", "output"]  # not `unused`, nor `skip`
    assert by_name["act"].output_shape == (4, 26, 26)  # the first of its two calls
    assert by_name["lstm"].output_shape == (104, 16)  # the first tensor of its tuple
    assert by_name["lstm"].params == 4 * 16 * (26 + 16) + 2 * 4 * 16
    assert by_name["proj"].output_shape == (104, 8) and by_name["proj"].macs == 104 * 16 * 8
    with pytest.raises(ValueError, match="'unused' is not called"):
        layer_table(model, torch.randn(1, 1, 28, 28), names=["conv", "unused"])


def test_a_probe_of_the_wrong_shape_says_so(lenet):
    with pytest.raises(ValueError, match=r"probe of shape \(2, 3, 28, 28\)") as err:
        layer_table(lenet, torch.randn(2, 3, 28, 28))
    assert str(err.value.__cause__) in str(err.value)  # the torch error, e.g. "expected input[1, 3, 28, 28]..."
    with pytest.raises(ValueError, match=r"\(1, 1, 32, 32\)"):  # the convs run; the first fc gets 576, not 400
        layer_table(lenet, torch.randn(1, 1, 32, 32))
    assert lenet.training and all(not m._forward_hooks for m in lenet.modules())  # put back all the same


def test_no_hook_is_left_and_every_module_keeps_its_mode(resnet):
    resnet.layer1.eval()  # e.g. a frozen part, in eval mode while the rest trains
    stats = {k: v.clone() for k, v in resnet.state_dict().items()}
    layer_table(resnet, torch.randn(2, 3, 32, 32), names=["layer1", "layer2.conv1", "fc"])
    layer_table(resnet, torch.randn(2, 3, 32, 32))
    assert all(not m._forward_hooks for m in resnet.modules())
    assert resnet.training and resnet.layer2.bn1.training and not resnet.layer1.training
    assert not resnet.layer1.bn1.training
    assert all(torch.equal(v, stats[k]) for k, v in resnet.state_dict().items())  # eval: no statistics updated


def test_an_mlp_and_a_larger_input(mlp):
    assert rows(layer_table(mlp, torch.randn(3, 1, 28, 28))) == [
        ("0: Flatten", "flatten", (784,), 0, 0), ("1: Linear 784→32", "fc", (32,), 784 * 32 + 32, 784 * 32),
        ("2: ReLU", "relu", (32,), 0, 0), ("3: Dropout p=0.5", "dropout", (32,), 0, 0),
        ("4: Linear 32→10", "fc", (10,), 330, 320), ("output: softmax over the classes", "softmax", (10,), 0, 0)]
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.MaxPool2d(3, stride=2, padding=1), nn.GELU(),
                          nn.AdaptiveMaxPool2d((2, 3)))
    assert rows(layer_table(model, torch.randn(1, 3, 96, 96))) == [  # output (1, 4, 2, 3): no softmax row
        ("0: Conv2d 3→4, 3x3, stride 2", "conv", (4, 47, 47), 112, 4 * 47 * 47 * 27),
        ("1: MaxPool2d 3x3, stride 2, pad 1", "pool", (4, 24, 24), 0, 0), ("2: GELU", "gelu", (4, 24, 24), 0, 0),
        ("3: AdaptiveMaxPool2d to 2x3", "pool", (4, 2, 3), 0, 0)]


def test_grouped_convs_and_unknown_types():
    model = nn.Sequential(nn.Conv2d(4, 8, 3, groups=2, bias=False), nn.SiLU(), nn.Flatten(), nn.Linear(8 * 36, 2))
    got = rows(layer_table(model, torch.randn(1, 4, 8, 8)))
    assert got[0] == ("0: Conv2d 4→8, 3x3, groups 2", "conv", (8, 6, 6), 8 * 2 * 9, 8 * 36 * 2 * 9)
    assert got[1][:2] == ("1: SiLU", "silu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_a_cuda_model_takes_a_cpu_probe(lenet):
    layers = layer_table(lenet.cuda(), torch.randn(1, 1, 28, 28))
    assert layers[0].row.output_shape == (6, 28, 28) and len(layers) == 13
