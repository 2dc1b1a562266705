"""validate(): every error names the layer and the problem, and carries the layer's path."""

import re

import pytest

from convscope.models import SpecError, validate
from convscope.models.spec import MAX_LAYERS, MAX_NESTING

FC10 = {"type": "fc", "units": 10}


def error(spec, **kwargs) -> SpecError:
    with pytest.raises(SpecError) as info:
        validate(spec, **kwargs)
    return info.value


def check(spec, message: str, path: tuple[int, ...], **kwargs) -> None:
    e = error(spec, **kwargs)
    assert message in str(e), str(e)
    assert e.path == path


def test_empty_spec():
    check([], "the spec is empty", ())


def test_spec_not_a_list():
    check({"layers": [FC10]}, "the spec must be a list of layers", ())


def test_layer_not_an_object():
    check([FC10, "relu"], 'layer 1: a layer must be an object like {"type": "conv", ...}, got "relu" (a string)',
          (1,))


def test_missing_type():
    check([{"units": 10}], 'layer 0: missing "type"; known types: input, conv, pool', (0,))


def test_unknown_type():
    spec = [{"type": "relu"}] * 7 + [{"type": "convolution"}, FC10]
    check(spec, 'layer 7: unknown type "convolution"; known types: input, conv, pool, globalpool', (7,))


def test_unknown_field_suggests_the_right_one():
    spec = [{"type": "relu"}, {"type": "relu"}, {"type": "fc", "unit": 10}]
    check(spec, 'layer 2 (fc): unknown field "unit" (did you mean "units"?)', (2,))
    check([{"type": "conv", "filter": 8, "size": 3}, FC10], 'unknown field "filter" (did you mean "filters"?)', (0,))


def test_unknown_field_on_a_layer_without_fields():
    check([{"type": "relu", "inplace": True}, FC10],
          'layer 0 (relu): unknown field "inplace"; relu takes no fields', (0,))


def test_missing_required_field():
    check([{"type": "conv", "filters": 8}, FC10], 'layer 0 (conv): missing required field "size"', (0,))


@pytest.mark.parametrize("layer, message", [
    ({"type": "conv", "filters": 8, "size": "3"}, '"size" must be a positive integer, got "3" (a string)'),
    ({"type": "conv", "filters": 8, "size": 0}, '"size" must be a positive integer, got 0 (an integer)'),
    ({"type": "conv", "filters": -4, "size": 3}, '"filters" must be a positive integer, got -4 (an integer)'),
    ({"type": "conv", "filters": True, "size": 3}, '"filters" must be a positive integer, got true (a boolean)'),
    ({"type": "conv", "filters": 8, "size": 3.0}, '"size" must be a positive integer, got 3.0 (a number)'),
    ({"type": "conv", "filters": 8, "size": 3, "pad": -1}, '"pad" must be an integer >= 0, got -1 (an integer)'),
    ({"type": "conv", "filters": 8, "size": 3, "bias": 1}, '"bias" must be true or false, got 1 (an integer)'),
    ({"type": "pool", "mode": "min"}, '"mode" must be one of "max", "avg", got "min" (a string)'),
    ({"type": "dropout", "p": 1.0}, '"p" must be a number in [0, 1), got 1.0 (a number)'),
    ({"type": "scale", "factor": 0}, '"factor" must be a non-zero number of size at most 1000, got 0'),
    ({"type": "scale", "factor": "0.5"}, '"factor" must be a non-zero number'),
    ({"type": "residual", "layers": []}, '"layers" must be a non-empty list of layers, got [] (a list)'),
    ({"type": "inception", "branches": [{"type": "relu"}]}, '"branches" must be a non-empty list of layer lists'),
])
def test_wrong_field_values(layer, message):
    check([{"type": "relu"}, layer, FC10], f"layer 1 ({layer['type']}): {message}", (1,))


def test_kernel_larger_than_input():
    spec = [{"type": "input", "channels": 3, "height": 8, "width": 8}, {"type": "pool"}, {"type": "relu"},
            {"type": "conv", "filters": 8, "size": 5}, FC10]
    check(spec, "layer 3 (conv): kernel 5 is larger than its input 4x4 with pad 0", (3,))


def test_pool_pad_more_than_half_the_window():
    check([{"type": "pool", "size": 2, "pad": 2}, FC10],
          "layer 0 (pool): pad 2 must be at most half the window size 2", (0,))


def test_image_layer_on_a_vector():
    spec = [{"type": "input", "channels": 20, "height": 4, "width": 4}, {"type": "relu"}, {"type": "relu"},
            {"type": "relu"}, {"type": "flatten"}, {"type": "conv", "filters": 8, "size": 1}, FC10]
    check(spec, "layer 5 (conv): expects a 3-D input (C,H,W), got a vector (320,)", (5,))


def test_input_must_be_first():
    check([{"type": "relu"}, {"type": "input"}, FC10], "layer 1 (input): input must be the first layer", (1,))


def test_softmax_must_be_last():
    check([FC10, {"type": "softmax"}, {"type": "relu"}], "layer 1 (softmax): softmax must be the last layer", (1,))


def test_softmax_needs_a_vector():
    check([{"type": "softmax"}], "layer 0 (softmax): expects a vector input, got 3x32x32", (0,))


def test_output_must_be_a_vector_of_num_classes():
    check([{"type": "conv", "filters": 8, "size": 3}],
          "the network's output is 8x30x30, expected a vector of 10 class scores", (0,))
    check([FC10, {"type": "softmax"}], "the network's output is (10,), expected a vector of 100 class scores",
          (1,), num_classes=100)


def test_residual_channel_mismatch_with_identity_shortcut():
    body = [{"type": "conv", "filters": 16, "size": 3, "pad": 1}]
    spec = [{"type": "relu"}] * 4 + [{"type": "residual", "layers": body, "shortcut": "identity"}, FC10]
    check(spec, "layer 4 (residual): channel mismatch: the body gives 16x32x32 but the identity shortcut gives "
                "3x32x32", (4,))


def test_residual_body_size_no_shortcut_can_match():
    body = [{"type": "conv", "filters": 16, "size": 3}]  # 32 -> 30, not ceil(32 / stride) for any stride
    check([{"type": "residual", "layers": body}, FC10],
          "layer 0 (residual): the body gives 16x30x30 from 3x32x32; no strided 1x1 conv shortcut can match it", (0,))


def test_residual_body_must_keep_an_image():
    check([{"type": "residual", "layers": [{"type": "globalpool"}]}, FC10],
          "layer 0 (residual): the body must give a 3-D (C,H,W) output", (0,))


def test_error_inside_a_residual_names_the_block_and_the_nested_path():
    body = [{"type": "relu"}, {"type": "conv", "filters": 8, "size": 3, "pading": 1}]
    spec = [{"type": "relu"}] * 4 + [{"type": "residual", "layers": body}, FC10]
    check(spec, 'layer 4 (residual), layer 1 (conv): unknown field "pading" (did you mean "pad"?)', (4, 1))


def test_shape_error_inside_a_residual():
    body = [{"type": "pool", "size": 8}, {"type": "conv", "filters": 3, "size": 5}]
    check([{"type": "residual", "layers": body}, FC10],
          "layer 0 (residual), layer 1 (conv): kernel 5 is larger than its input 4x4 with pad 0", (0, 1))


def test_inception_branches_must_agree_on_height_and_width():
    branches = [[{"type": "conv", "filters": 4, "size": 1}], [{"type": "conv", "filters": 4, "size": 3}]]
    check([{"type": "relu"}, {"type": "inception", "branches": branches}, FC10],
          "layer 1 (inception): branch 1 gives 4x30x30 but branch 0 gives 4x32x32", (1, 1))


def test_error_inside_an_inception_branch_has_branch_and_layer_in_its_path():
    branches = [[{"type": "relu"}], [{"type": "relu"}, {"type": "relu"}, {"type": "conv", "filters": 4}]]
    spec = [{"type": "relu"}] * 4 + [{"type": "inception", "branches": branches}, FC10]
    check(spec, 'layer 4 (inception), branch 1, layer 2 (conv): missing required field "size"', (4, 1, 2))


def test_inception_branch_must_not_be_empty():
    check([{"type": "inception", "branches": [[{"type": "relu"}], []]}, FC10],
          "layer 0 (inception), branch 1: a branch needs at least one layer", (0, 1))


def test_input_and_softmax_only_at_top_level():
    check([{"type": "residual", "layers": [{"type": "softmax"}]}, FC10],
          "layer 0 (residual), layer 0 (softmax): softmax is only allowed at the top level", (0, 0))


def nested(depth: int, block) -> list:
    """A conv wrapped in `depth` blocks made by block(layers)."""
    layers = [{"type": "conv", "filters": 4, "size": 1}]
    for _ in range(depth):
        layers = [block(layers)]
    return layers + [FC10]


@pytest.mark.parametrize("block", [lambda layers: {"type": "residual", "layers": layers},
                                   lambda layers: {"type": "inception", "branches": [layers]}])
def test_blocks_nest_at_most_max_nesting_deep(block):
    """A spec nested hundreds deep crashed the server (recursion, and its layer table as JSON)."""
    assert len(validate(nested(MAX_NESTING, block))) == 2
    e = error(nested(MAX_NESTING + 1, block))
    assert f"blocks may be nested at most {MAX_NESTING} deep" in str(e) and len(e.path) > MAX_NESTING
    assert f"more than {MAX_LAYERS} layers" in str(error(nested(5000, block)))


def test_at_most_max_layers_in_all():
    """A flat spec of 100,000 layers took 6 s of CPU to check on an open route."""
    assert len(validate([{"type": "relu"}] * (MAX_LAYERS - 2) + [{"type": "flatten"}, FC10])) == MAX_LAYERS
    assert f"more than {MAX_LAYERS} layers" in str(error([{"type": "relu"}] * 100_000 + [FC10]))
    inside = [{"type": "residual", "layers": [{"type": "relu"}] * MAX_LAYERS}, FC10]
    assert f"more than {MAX_LAYERS} layers" in str(error(inside))


def test_nin_error_names_the_block():
    check([{"type": "pool", "size": 16}, {"type": "nin", "filters": 8, "size": 3}, FC10],
          "layer 1 (nin), layer 0 (conv): kernel 3 is larger than its input 2x2 with pad 0", (1, 0))


def test_validate_fills_defaults_and_leaves_the_input_alone():
    spec = [{"type": "pool", "size": 3}, {"type": "residual", "layers": [{"type": "dropout"}]}, FC10]
    original = repr(spec)
    layers = validate(spec)
    assert repr(spec) == original
    assert layers[0] == {"type": "pool", "mode": "max", "size": 3, "stride": 3, "pad": 0}
    assert layers[1] == {"type": "residual", "layers": [{"type": "dropout", "p": 0.5}], "activation": "none",
                         "shortcut": "auto"}
    assert layers[2] == {"type": "fc", "units": 10, "bias": True}
    assert validate(layers) == layers


def test_long_values_are_cut_short_in_messages():
    e = error([{"type": "conv", "filters": 8, "size": "x" * 100}, FC10])
    assert re.search(r'got "x{36}\.\.\. \(a string\)$', str(e)), str(e)
