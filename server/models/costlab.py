"""The cost lab: two ways to build the same layer, side by side, costed by the layer table's code.

Three comparisons a CNN course makes:

- `fc_vs_conv`: a fully connected layer and a convolution, each giving F x H' x W' numbers from
  the same C x H x W input. The conv shares one small filter across every position.
- `bottleneck`: a k x k conv of F filters directly, or a 1x1 conv down to R channels first
  (GoogLeNet's trick): 28*28*64*5*5*128 = 160.6M MACs against 28*28*32*128 + 28*28*64*5*5*32
  = 3.2M + 40.1M = 43.4M (43,352,064) for the 128x28x28 example.
- `small_filters`: one k x k conv, or a stack of (k-1)/2 3x3 convs that sees the same k x k window
  (VGG): fewer parameters and MACs, and more nonlinearities.

Each side is a spec (an input layer, then layers); `layer_table` costs it, so the numbers are the
ones the layer table shows (cost.py's convention: MACs of conv and fc layers only, no biases).
"""

from __future__ import annotations

from dataclasses import dataclass

from .cost import LayerRow
from .layers import TYPES
from .spec import SpecError, validate
from .table import layer_table, totals

LABS = ("fc-vs-conv", "bottleneck", "small-filters")


@dataclass(frozen=True)
class Side:
    name: str  # e.g. "1x1 down to 32, then 5x5"
    spec: list[dict]  # an input layer, then the layers compared
    rows: list[LayerRow]
    params: int
    macs: int
    activations: int  # nonlinearities in the stack
    receptive_field: int | None  # side of the input window one output value sees; None: all of it (fc)


@dataclass(frozen=True)
class Comparison:
    lab: str
    title: str
    sides: tuple[Side, Side]


def receptive_field(layers: list[dict]) -> int | None:
    """Side of the input window that one output value of a conv/pool stack depends on;
    None after an fc layer, which sees the whole input."""
    field, jump = 1, 1  # window side so far, and the input distance between neighbouring outputs
    for layer in layers:
        if layer["type"] == "fc":
            return None
        if layer["type"] in ("conv", "pool"):
            field += (layer["size"] - 1) * jump
            jump *= layer["stride"]
    return field


def side(name: str, shape: tuple[int, int, int], layers: list[dict]) -> Side:
    """Cost `layers` on a C x H x W input with the layer table; raises SpecError naming the layer."""
    c, h, w = shape
    spec = validate([{"type": "input", "channels": c, "height": h, "width": w}, *layers], num_classes=None)
    rows = layer_table(spec, num_classes=None)
    params, macs = totals(rows)
    return Side(name, spec, rows, params, macs, sum(TYPES[layer["type"]].pattern == "act" for layer in spec),
                receptive_field(spec))


def conv(filters: int, size: int) -> dict:
    """A conv that keeps the height and width (for an odd size): stride 1, pad size // 2."""
    return {"type": "conv", "filters": filters, "size": size, "pad": size // 2}


RELU = {"type": "relu"}


def fc_vs_conv(shape: tuple[int, int, int], filters: int, size: int) -> Comparison:
    conv_side = side(f"convolution: {filters} filters of {size}x{size}", shape, [conv(filters, size)])
    outputs = conv_side.rows[-1].output_shape
    units = outputs[0] * outputs[1] * outputs[2]
    fc_side = side(f"fully connected: {units:,} units", shape, [{"type": "fc", "units": units}])
    return Comparison("fc-vs-conv", "Fully connected vs convolution, same input, same number of outputs",
                      (fc_side, conv_side))


def bottleneck(shape: tuple[int, int, int], filters: int, size: int, reduce: int) -> Comparison:
    direct = side(f"{size}x{size} conv, {filters} filters", shape, [conv(filters, size), RELU])
    reduced = side(f"1x1 conv down to {reduce} channels, then {size}x{size} conv, {filters} filters", shape,
                   [conv(reduce, 1), RELU, conv(filters, size), RELU])
    return Comparison("bottleneck", f"{size}x{size} directly vs a 1x1 reduction first", (direct, reduced))


def small_filters(shape: tuple[int, int, int], filters: int, size: int) -> Comparison:
    if size < 3 or size % 2 == 0:
        raise SpecError(f"size must be odd and at least 3 (a stack of 3x3 convs sees 3, 5, 7, ...), got {size}")
    count = (size - 1) // 2
    one = side(f"one {size}x{size} conv", shape, [conv(filters, size), RELU])
    stack = side(f"{count} stacked 3x3 convs", shape, [conv(filters, 3), RELU] * count)
    return Comparison("small-filters", f"One {size}x{size} conv vs {count} stacked 3x3 convs", (one, stack))


def compare(lab: str, shape: tuple[int, int, int], filters: int, size: int, reduce: int | None = None) -> Comparison:
    """One of LABS on a C x H x W input; raises SpecError (a window larger than the input, ...)."""
    if lab == "fc-vs-conv":
        return fc_vs_conv(shape, filters, size)
    if lab == "bottleneck":
        if reduce is None:
            raise SpecError("reduce (the channels of the 1x1 conv) is required for the bottleneck comparison")
        return bottleneck(shape, filters, size, reduce)
    if lab == "small-filters":
        return small_filters(shape, filters, size)
    raise SpecError(f"unknown comparison {lab!r}; known: {', '.join(LABS)}")
