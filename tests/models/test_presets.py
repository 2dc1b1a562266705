"""The preset zoo: the ConvNetJS net's known totals, and every preset valid with a usable recipe."""

import pytest

from convscope.models import PRESETS, UnknownModel, get_preset, layer_table, totals
from convscope.train.config import TrainConfig


def test_presets_in_course_order():
    assert list(PRESETS) == ["convnetjs", "lenet", "lenet-d2l", "lenet-bn", "alexnet-mini", "vgg-mini", "nin-mini",
                             "googlenet-mini", "resnet-mini", "fast", "fast-wide"]


def test_convnetjs_is_the_demo_network():
    rows = layer_table(get_preset("convnetjs").spec)
    # params: conv1 3*25*16+16 = 1,216; conv2 16*25*20+20 = 8,020; conv3 20*25*20+20 = 10,020; fc 320*10+10 = 3,210
    # MACs: 16*32*32*75 = 1,228,800; 20*16*16*400 = 2,048,000; 20*8*8*500 = 640,000; 320*10 = 3,200
    assert totals(rows) == (22_466, 3_920_000)
    assert [r.output_shape for r in rows if r.type in ("conv", "pool")] == [
        (16, 32, 32), (16, 16, 16), (20, 16, 16), (20, 8, 8), (20, 8, 8), (20, 4, 4)]


def test_lenet_has_the_original_shapes():
    rows = layer_table(get_preset("lenet").spec)
    assert [r.output_shape for r in rows if r.type in ("conv", "pool", "fc")] == [
        (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120,), (84,), (10,)]
    assert rows[7].params == 16 * 5 * 5 * 120 + 120  # 400 features into fc 120


def test_the_books_lenet_is_the_books():
    """d2l.ai's LeNet on 1x28x28: 6 maps of 28x28 (padding 2), 61,706 parameters as the book counts them."""
    rows = layer_table(get_preset("lenet-d2l").spec)
    assert [r.output_shape for r in rows if r.type in ("conv", "pool", "fc")] == [
        (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120,), (84,), (10,)]
    assert totals(rows)[0] == 61_706 and [r.type for r in rows].count("sigmoid") == 4
    bn = layer_table(get_preset("lenet-bn").spec)
    assert [r.type for r in bn].count("batchnorm") == 4 and totals(bn)[0] == 61_706 + 2 * (6 + 16 + 120 + 84)


@pytest.mark.parametrize("name", [n for n in PRESETS if n not in ("convnetjs", "lenet", "lenet-d2l", "lenet-bn")])
def test_cost_is_sized_for_a_cpu(name):
    _, macs = totals(layer_table(PRESETS[name].spec))
    assert 10e6 <= macs <= 150e6


@pytest.mark.parametrize("preset", PRESETS.values(), ids=list(PRESETS))
def test_preset_is_complete(preset):
    assert preset.spec[0]["type"] == "input" and preset.spec[-1]["type"] == "softmax"
    assert preset.title and 2 <= preset.note.count(". ") + 1 <= 3
    TrainConfig().replace(**preset.recipe)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(UnknownModel, match="unknown model 'vgg'; known models: convnetjs, lenet, lenet-d2l, "
                                           "lenet-bn, alexnet-mini"):
        get_preset("vgg")
    assert issubclass(UnknownModel, ValueError)
