"""The cost lab's comparisons against parameters and MACs worked out by hand."""

import pytest

from convscope.models import SpecError, layer_table
from convscope.models.costlab import compare, receptive_field


def costs(side):
    """(name, params, macs) of each costed row after the input."""
    return [(row.name, row.params, row.macs) for row in side.rows[1:]]


def test_googlenet_1x1_reduction_example():
    # 128x28x28 input, 64 filters of 5x5 (pad 2 keeps 28x28), or a 1x1 conv to 32 channels first
    direct, reduced = compare("bottleneck", (128, 28, 28), filters=64, size=5, reduce=32).sides
    assert direct.macs == 28 * 28 * 64 * 5 * 5 * 128 == 160_563_200
    assert costs(reduced) == [
        ("conv 1x1, 32 filters", 128 * 32 + 32, 28 * 28 * 32 * 128),  # 3,211,264 MACs: 3.2M
        ("relu", 0, 0),
        ("conv 5x5, 64 filters, pad 2", 32 * 25 * 64 + 64, 28 * 28 * 64 * 5 * 5 * 32),  # 40,140,800: 40.1M
        ("relu", 0, 0),
    ]
    assert reduced.macs == 3_211_264 + 40_140_800 == 43_352_064  # 43.4M; not the slide's 4.8M + 40.1M = 44.8M
    assert direct.params == 128 * 25 * 64 + 64 == 204_864
    assert reduced.params == 4_128 + 51_264
    assert (direct.activations, reduced.activations) == (1, 2)


def test_fully_connected_vs_convolution():
    fc, conv = compare("fc-vs-conv", (3, 32, 32), filters=16, size=5).sides
    outputs = 16 * 32 * 32  # pad 2 keeps 32x32
    assert costs(conv) == [("conv 5x5, 16 filters, pad 2", 16 * 3 * 25 + 16, outputs * 3 * 25)]
    assert costs(fc) == [(f"fc {outputs}", 3072 * outputs + outputs, 3072 * outputs)]
    assert fc.rows[-1].output_shape == (outputs,) and conv.rows[-1].output_shape == (16, 32, 32)
    assert (fc.receptive_field, conv.receptive_field) == (None, 5)


@pytest.mark.parametrize("size, count", [(5, 2), (7, 3)])
def test_one_big_filter_vs_stacked_3x3(size, count):
    big, small = compare("small-filters", (64, 32, 32), filters=64, size=size).sides
    assert big.params == 64 * 64 * size * size + 64
    assert big.macs == 64 * 32 * 32 * 64 * size * size
    assert small.params == count * (64 * 64 * 9 + 64)
    assert small.macs == count * 64 * 32 * 32 * 64 * 9
    assert big.receptive_field == small.receptive_field == size
    assert (big.activations, small.activations) == (1, count)
    # the course's rule: C channels in and out, 7x7 = 49 C^2 weights, three 3x3 = 27 C^2
    if size == 7:
        assert (big.params - 64, small.params - 3 * 64) == (49 * 64 * 64, 27 * 64 * 64)


def test_the_numbers_are_the_layer_tables():
    for lab, extra in (("fc-vs-conv", {}), ("bottleneck", {"reduce": 8}), ("small-filters", {})):
        for side in compare(lab, (4, 9, 9), filters=6, size=5, **extra).sides:
            assert side.rows == layer_table(side.spec, num_classes=None)


def test_receptive_field_counts_strides():
    conv = {"type": "conv", "size": 3, "stride": 1}
    pool = {"type": "pool", "size": 2, "stride": 2}
    assert receptive_field([conv, conv]) == 5
    assert receptive_field([conv, pool, conv]) == 3 + 1 + 2 * 2  # after a stride-2 pool each step covers 2 pixels
    assert receptive_field([conv, {"type": "fc"}]) is None


@pytest.mark.parametrize("args, words", [
    (("small-filters", (8, 16, 16), 8, 4), "size must be odd"),
    (("bottleneck", (8, 16, 16), 8, 3), "reduce"),
    (("small-filters", (8, 16, 16), 8, 1), "at least 3"),
    (("pooling", (8, 16, 16), 8, 3), "unknown comparison"),
])
def test_bad_setups_say_why(args, words):
    with pytest.raises(SpecError, match=words):
        compare(*args)
