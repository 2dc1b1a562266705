"""The recast network (server/models/recast.py) against PyTorch: run the original network on every
window's crop and compare with the recast output at that window's position; count its MACs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from convscope.models import PRESETS, build_model, layer_table, totals
from convscope.models.recast import NotRecastable, Tally, from_state, recast
from models.test_model_network import SPECS  # every layer type, in one spec (and the presets)

FC10 = {"type": "fc", "units": 10}
MORE = {
    # several fc layers after a flatten, with dropout, a batchnorm and activations between them
    "several-fc": [{"type": "conv", "filters": 6, "size": 5}, {"type": "relu"}, {"type": "pool", "size": 2},
                   {"type": "flatten"}, {"type": "dropout"}, {"type": "fc", "units": 32}, {"type": "relu"},
                   {"type": "batchnorm"}, {"type": "fc", "units": 16}, {"type": "tanh"}, FC10, {"type": "softmax"}],
    # a batchnorm right after flatten: one mean per value of the flattened map
    "flatten-batchnorm": [{"type": "conv", "filters": 4, "size": 3, "stride": 2}, {"type": "pool", "size": 4},
                          {"type": "flatten"}, {"type": "batchnorm"}, {"type": "relu"}, FC10],
    # flatten with no fc after it: the classes are positions of the last map
    "flatten-last": [{"type": "input", "channels": 3, "height": 20, "width": 10},
                     {"type": "conv", "filters": 5, "size": 3, "stride": 2, "pad": 1}, {"type": "pool", "size": 5},
                     {"type": "conv", "filters": 5, "size": 1}, {"type": "flatten"}, {"type": "softmax"}],
    # no conv at all: the fc layer is a conv as large as the input, sliding by 1 pixel
    "fc-only": [{"type": "input", "channels": 3, "height": 8, "width": 12}, {"type": "fc", "units": 20},
                {"type": "relu"}, FC10],
}
NETWORKS = {**{name: preset.spec for name, preset in PRESETS.items()},
            **{name: SPECS[name] for name in ("every-type", "flatten-globalpool", "flatten")}, **MORE}
NO_PADDING = {"lenet", "several-fc", "flatten-globalpool", "flatten", "flatten-batchnorm", "fc-only"}
TOLERANCE = 1e-5  # float32: the largest difference seen is 1e-6 (logits of size ~1)


def trained_looking(spec: list[dict], seed: int = 0) -> nn.Module:
    """The network with random weights and random batchnorm statistics (so eval mode's normalisation
    is not the identity), in eval mode."""
    torch.manual_seed(seed)
    network = build_model(spec).eval()
    for m in network.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.normal_(1, 0.2)
            m.bias.data.normal_(0, 0.2)
    return network.requires_grad_(False)


def every_window(network: nn.Module, photo: torch.Tensor, stride: tuple[int, int]) -> torch.Tensor:
    """(1, classes, rows, cols): the network on each crop at (i, j) * stride, one crop at a time in a batch."""
    _, _, height, width = photo.shape
    _, h, w = network.input_shape
    rows, cols = (height - h) // stride[0] + 1, (width - w) // stride[1] + 1
    crops = torch.stack([photo[0, :, i * stride[0]:i * stride[0] + h, j * stride[1]:j * stride[1] + w]
                         for i in range(rows) for j in range(cols)])
    with torch.no_grad():
        return network(crops).T.reshape(1, -1, rows, cols)


def photo_for(sliding, extra=(3, 2), seed: int = 1) -> torch.Tensor:
    """A random photo holding (extra + 1) windows down and across, with a few pixels left over."""
    c, h, w = sliding.window
    torch.manual_seed(seed)
    return torch.randn(1, c, h + extra[0] * sliding.stride[0] + 3, w + extra[1] * sliding.stride[1] + 5)


@pytest.mark.parametrize("name", NETWORKS)
def test_every_window_gets_the_networks_numbers(name):
    network = trained_looking(NETWORKS[name])
    sliding = recast(network)
    photo = photo_for(sliding)
    want = every_window(network, photo, sliding.stride)
    got = sliding.exact(photo)
    assert got.shape == want.shape and got.shape[2:] == sliding.grid(*photo.shape[2:])
    error = (got - want).abs().max().item()
    assert error < TOLERANCE
    one_pass = (sliding(photo) - want).abs().max().item()
    if name in NO_PADDING:  # nothing to recompute: the one pass is exact
        assert one_pass < TOLERANCE
        assert all(step.frame == (0, 0, 0, 0) for step in sliding.steps)
    else:  # the photo around each window instead of its padding zeros (small where sigmoids saturate: LeNet's)
        assert one_pass > TOLERANCE and one_pass > 10 * error


def test_convnetjs_slides_at_8_pixels_and_its_fc_layer_becomes_a_4x4_conv():
    sliding = recast(trained_looking(PRESETS["convnetjs"].spec))
    assert sliding.window == (3, 32, 32) and sliding.stride == (8, 8)
    assert [row.recast for row in sliding.rows][-2:] == [
        "conv 4x4, 10 filters: the fc's weights as 10x20x4x4 filters", "softmax over the classes, at every position"]
    fc = sliding.steps[-1].module
    assert isinstance(fc, nn.Conv2d) and fc.weight.shape == (10, 20, 4, 4)
    # each window recomputes the rows and columns its padding zeros reach: 2 after conv 1, 3 after conv 2,
    # all of conv 3's 8x8 map (and so the fc layer's input) from there on
    frames = {step.path: (step.frame, step.full) for step in sliding.steps}
    assert frames[(1,)] == ((2, 2, 2, 2), False) and frames[(4,)] == ((3, 3, 3, 3), False)
    assert frames[(7,)][1] and frames[(10,)][1]
    assert sliding.grid(256, 256) == (29, 29) and sliding.grid(32, 39) == (1, 1) and sliding.grid(40, 40) == (2, 2)
    with pytest.raises(ValueError, match="smaller than the network's 32x32 input"):
        sliding.grid(31, 64)


def test_lenet_fc_layers_become_a_5x5_conv_then_1x1_convs():
    sliding = recast(trained_looking(PRESETS["lenet"].spec))
    assert sliding.stride == (4, 4)
    convs = [step.module for step in sliding.steps if isinstance(step.module, nn.Conv2d)]
    assert [tuple(c.weight.shape) for c in convs] == [(6, 3, 5, 5), (16, 6, 5, 5), (120, 16, 5, 5), (84, 120, 1, 1),
                                                      (10, 84, 1, 1)]


def test_the_recast_shares_the_networks_weights_and_from_state_builds_the_same():
    network = trained_looking(PRESETS["lenet"].spec)
    sliding = recast(network)
    photo = photo_for(sliding)
    before = sliding(photo)
    again = from_state(network.spec, network.state_dict())
    assert torch.equal(again(photo), before)
    with torch.no_grad():
        network.layers[7].weight.mul_(2)  # the fc 120: its conv is a view of the same weights
    assert not torch.equal(sliding(photo), before)


def test_macs_three_ways_for_convnetjs_on_a_256x256_photo():
    network = trained_looking(PRESETS["convnetjs"].spec)
    costs = recast(network).costs(256, 256)
    assert costs.windows == 29 * 29 and sum(costs.window) == 3_920_000  # the layer table's
    assert costs.per_window == 841 * 3_920_000 == 3_296_720_000
    # one pass: conv 1 on 256x256, conv 2 on 128x128, conv 3 on 64x64, the fc as a 4x4 conv at 29x29 places
    assert costs.one_pass == [78_643_200, 0, 0, 131_072_000, 0, 0, 40_960_000, 0, 0, 2_691_200]  # steps: no input
    # exact: conv 1 and 2 once over the photo; their frames, conv 3 and the fc layer for every window
    assert sum(costs.shared) == 78_643_200 + 131_072_000
    frame1 = (32 * 32 - 28 * 28) * 16 * 3 * 25  # the 2-pixel frame of conv 1's 32x32 map
    frame2 = (16 * 16 - 10 * 10) * 20 * 16 * 25  # the 3-pixel frame of conv 2's 16x16 map
    assert sum(costs.frames) == 841 * (frame1 + frame2 + 640_000 + 3200) == 1_832_707_200
    assert costs.exact == 2_042_422_400


@pytest.mark.parametrize("name", ["convnetjs", "lenet", "every-type", "several-fc"])
def test_the_counted_macs_are_those_of_the_runs(name):
    network = trained_looking(NETWORKS[name])
    sliding = recast(network)
    photo = photo_for(sliding, extra=(2, 1))
    costs = sliding.costs(*photo.shape[2:])
    assert sum(costs.window) == totals(layer_table(network.spec))[1]
    one, exact = Tally(len(sliding.steps)), Tally(len(sliding.steps))
    sliding(photo, one)
    sliding.exact(photo, exact, chunk=5)  # in several chunks of windows
    assert (one.shared, one.windows) == (costs.one_pass, [0] * len(sliding.steps))
    assert (exact.shared, exact.windows) == (costs.shared, costs.frames)
    # one window: the one pass is the network itself
    c, h, w = sliding.window
    single = sliding.costs(h, w)
    assert single.windows == 1 and single.one_pass == single.window


BAD = {
    "inception": ([{"type": "conv", "filters": 4, "size": 3, "pad": 1},
                   {"type": "inception", "branches": [[{"type": "conv", "filters": 4, "size": 2, "stride": 2}],
                                                      [{"type": "conv", "filters": 4, "size": 17}]]}, FC10],
                  (1,), "layer 1 (inception): branch 0 moves 2 pixels per output, branch 1 moves 1 pixel: on one "
                        "32x32 input both give 16x16 maps, but on a larger photo they differ in size"),
    "residual": ([{"type": "residual", "layers": [{"type": "conv", "filters": 3, "size": 12, "stride": 2}]}, FC10],
                 (0,), "layer 0 (residual): its body moves 2 pixels per output, its shortcut 3 pixels"),
    "nested": ([{"type": "residual", "shortcut": "conv", "layers": [
                   {"type": "relu"}, {"type": "inception", "branches": [[{"type": "pool", "size": 2}],
                                                                        [{"type": "conv", "filters": 3, "size": 17}]]}]},
                FC10],
               (0, 1), "layer 0 (residual), layer 1 (inception): branch 0 moves 2 pixels per output"),
}


@pytest.mark.parametrize("name", BAD)
def test_blocks_whose_paths_move_at_different_strides_are_refused(name):
    spec, path, message = BAD[name]
    network = build_model(spec)  # a valid network: on one window the paths' maps have the same size
    with pytest.raises(NotRecastable) as refused:
        recast(network)
    assert refused.value.path == path and str(refused.value).startswith(message)
    network(torch.randn(2, 3, 32, 32))  # it classifies a window; it cannot slide
