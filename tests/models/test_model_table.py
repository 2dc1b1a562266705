"""Shapes, parameters and MACs of every layer type, against arithmetic done by hand."""

import pytest

from convscope.models import (LayerRow, conv_macs, conv_params, fc_macs, fc_params, format_table, layer_table, totals,
                           window_output_size)

FC10 = {"type": "fc", "units": 10}
CONV = {"type": "conv", "filters": 16, "size": 5, "pad": 2}


def first_row(layer: dict) -> LayerRow:
    """The row of `layer` run on the default 3x32x32 input, followed by fc 10."""
    return layer_table([layer, FC10])[0]


@pytest.mark.parametrize("layer, shape, params, macs", [
    # conv 5x5 16 pad 2: (32 + 4 - 5) + 1 = 32; params 3*25*16 + 16; MACs 16*32*32 * 3*25
    (CONV, (16, 32, 32), 3 * 25 * 16 + 16, 1_228_800),
    # conv 3x3 8 stride 2 pad 1, no bias: (32 + 2 - 3) // 2 + 1 = 16; params 3*9*8; MACs 8*16*16 * 3*9
    ({"type": "conv", "filters": 8, "size": 3, "stride": 2, "pad": 1, "bias": False}, (8, 16, 16), 216, 55_296),
    ({"type": "pool"}, (3, 16, 16), 0, 0),  # max 2x2 stride 2
    ({"type": "pool", "mode": "avg", "size": 3, "stride": 2, "pad": 1}, (3, 16, 16), 0, 0),  # (32+2-3)//2+1
    ({"type": "globalpool"}, (3,), 0, 0),
    ({"type": "globalpool", "mode": "max"}, (3,), 0, 0),
    ({"type": "relu"}, (3, 32, 32), 0, 0),
    ({"type": "sigmoid"}, (3, 32, 32), 0, 0),
    ({"type": "tanh"}, (3, 32, 32), 0, 0),
    ({"type": "gelu"}, (3, 32, 32), 0, 0),
    ({"type": "batchnorm"}, (3, 32, 32), 2 * 3, 0),  # gamma and beta per channel
    ({"type": "dropout", "p": 0.25}, (3, 32, 32), 0, 0),
    ({"type": "scale", "factor": 0.125}, (3, 32, 32), 0, 0),
    ({"type": "flatten"}, (3 * 32 * 32,), 0, 0),
    # fc on an image flattens it: 3072 inputs; params 3072*10 + 10; MACs 3072*10
    ({"type": "fc", "units": 10}, (10,), 30_730, 30_720),
    ({"type": "fc", "units": 10, "bias": False}, (10,), 30_720, 30_720),
    # whiten 2x2: 2*3*2*2 = 24 filters of 3x2x2 = 288 weights, no bias; MACs 24*31*31 * 3*2*2
    ({"type": "whiten"}, (24, 31, 31), 288, 276_768),
    # residual, identity shortcut: conv 3x3 3->3 pad 1: 3*9*3 + 3 = 84; MACs 3*32*32 * 27 = 82,944
    ({"type": "residual", "layers": [{"type": "conv", "filters": 3, "size": 3, "pad": 1}]}, (3, 32, 32), 84, 82_944),
    # residual, projection: body conv 3x3 3->8 stride 2 pad 1 (3*9*8 + 8 = 224) + batchnorm (16);
    # shortcut 1x1 conv 3->8 stride 2, no bias (24) + batchnorm (16): 280.
    # MACs: body 8*16*16 * 27 = 55,296; shortcut 8*16*16 * 3 = 6,144; total 61,440
    ({"type": "residual", "activation": "relu", "layers": [
        {"type": "conv", "filters": 8, "size": 3, "stride": 2, "pad": 1}, {"type": "batchnorm"}]},
     (8, 16, 16), 280, 61_440),
    # inception: 1x1 4 (3*4 + 4 = 16; 4*1024*3 = 12,288) | 3x3 6 pad 1 (27*6 + 6 = 168; 6*1024*27 = 165,888)
    # | max pool 3/1/1 (3 channels): 4 + 6 + 3 = 13 channels
    ({"type": "inception", "branches": [
        [{"type": "conv", "filters": 4, "size": 1}], [{"type": "conv", "filters": 6, "size": 3, "pad": 1}],
        [{"type": "pool", "size": 3, "stride": 1, "pad": 1}]]}, (13, 32, 32), 184, 178_176),
    # nin 3x3 8 pad 1: conv 3*9*8 + 8 = 224, two 1x1 convs 8*8 + 8 = 72 each: 368;
    # MACs 8*1024*27 = 221,184 + 2 * 8*1024*8 = 131,072: 352,256
    ({"type": "nin", "filters": 8, "size": 3, "pad": 1}, (8, 32, 32), 368, 352_256),
])
def test_layer_costs(layer, shape, params, macs):
    row = first_row(layer)
    assert (row.output_shape, row.params, row.macs, row.path, row.depth) == (shape, params, macs, (0,), 0)


def test_input_and_softmax():
    rows = layer_table([{"type": "input", "channels": 1, "height": 28, "width": 28}, FC10, {"type": "softmax"}])
    assert [(r.name, r.output_shape, r.params, r.macs) for r in rows] == [
        ("input 1x28x28", (1, 28, 28), 0, 0), ("fc 10", (10,), 784 * 10 + 10, 7840), ("softmax", (10,), 0, 0)]


def test_batchnorm_on_a_vector():
    rows = layer_table([{"type": "fc", "units": 20}, {"type": "batchnorm"}, FC10])
    assert (rows[1].output_shape, rows[1].params) == ((20,), 40)


def test_whiten_is_counted_but_frozen():
    row = first_row({"type": "whiten"})
    assert (row.params, row.trainable) == (288, 0)
    assert first_row(CONV).trainable == first_row(CONV).params


def test_one_by_one_reduction_course_example():
    """The course's 1x1 bottleneck: 128x28x28 -> 1x1 conv 32 -> 5x5 conv 64 pad 2, vs a direct 5x5 conv 64."""
    spec = [{"type": "input", "channels": 128, "height": 28, "width": 28},
            {"type": "conv", "filters": 32, "size": 1}, {"type": "conv", "filters": 64, "size": 5, "pad": 2},
            {"type": "globalpool"}, FC10]
    rows = layer_table(spec)
    assert rows[1].macs == 28 * 28 * 32 * 128 == 3_211_264
    assert rows[2].macs == 28 * 28 * 64 * 5 * 5 * 32 == 40_140_800
    assert rows[1].macs + rows[2].macs == 43_352_064
    assert conv_macs(128, 64, 5, 28, 28) == 28 * 28 * 64 * 5 * 5 * 128 == 160_563_200


def test_cost_functions():
    assert window_output_size(32, 5, 1, 2) == 32 and window_output_size(32, 3, 2, 1) == 16
    assert window_output_size(32, 2, 2) == 16 and window_output_size(5, 2, 2) == 2  # floor
    assert conv_params(3, 16, 5) == 1216 and conv_params(3, 16, 5, bias=False) == 1200
    assert conv_macs(3, 16, 5, 32, 32) == 1_228_800
    assert fc_params(320, 10) == 3210 and fc_params(320, 10, bias=False) == 3200 and fc_macs(320, 10) == 3200


def test_block_rows_total_their_children_and_totals_count_them_once():
    body = [{"type": "conv", "filters": 8, "size": 3, "stride": 2, "pad": 1}, {"type": "batchnorm"}]
    rows = layer_table([{"type": "residual", "layers": body}, FC10])
    assert [(r.path, r.type, r.depth) for r in rows] == [
        ((0,), "residual", 0), ((0, 0), "conv", 1), ((0, 1), "batchnorm", 1), ((0, 2), "shortcut", 1),
        ((1,), "fc", 0)]
    assert rows[0].params == sum(r.params for r in rows[1:4])
    assert rows[3].name == "shortcut: conv 1x1, 8 filters, stride 2 + batchnorm"
    # fc: 8*16*16 = 2048 inputs -> 10
    assert totals(rows) == (280 + 2048 * 10 + 10, 61_440 + 20_480)


def test_nested_rows_inside_inception_have_branch_paths():
    branches = [[{"type": "conv", "filters": 4, "size": 1}, {"type": "relu"}], [{"type": "pool", "size": 1}]]
    rows = layer_table([{"type": "inception", "branches": branches}, FC10])
    assert [(r.path, r.output_shape) for r in rows[:4]] == [
        ((0,), (7, 32, 32)), ((0, 0, 0), (4, 32, 32)), ((0, 0, 1), (4, 32, 32)), ((0, 1, 0), (3, 32, 32))]


def test_layer_names():
    names = [first_row(layer).name for layer in [
        CONV, {"type": "conv", "filters": 8, "size": 3, "stride": 2, "bias": False},
        {"type": "pool", "mode": "avg", "size": 3, "stride": 2, "pad": 1}, {"type": "globalpool"},
        {"type": "dropout", "p": 0.3}, {"type": "nin", "filters": 8, "size": 3}]]
    assert names == ["conv 5x5, 16 filters, pad 2", "conv 3x3, 8 filters, stride 2, no bias",
                     "avg pool 3x3, stride 2, pad 1", "global avg pool", "dropout 0.3", "nin 3x3, 8 filters"]


def test_format_table():
    spec = [{"type": "whiten"}, {"type": "residual", "layers": [{"type": "relu"}]}, FC10, {"type": "softmax"}]
    text = format_table(layer_table(spec))
    lines = text.splitlines()
    assert lines[0].split() == ["#", "Layer", "Output", "shape", "Params", "MACs"]
    assert "whiten 2x2 (frozen)" in lines[2] and "24x31x31" in lines[2] and "288 frozen" in lines[2]
    assert lines[4].startswith("1.0 ") and "  relu" in lines[4]  # nested rows are indented
    assert lines[-2] == "Total params: 230,938 (231K) (288 frozen, not trained)"  # 288 + 24*31*31*10 + 10
    assert lines[-1] == "Total MACs:   507,408 (507K) per image"  # 276,768 + 23,064*10
