"""The layer types: one class per type, holding all that the type is.

A type has its fields (checks and defaults), a sentence for the page, its place in the classic
pattern, and what a layer of it does given its input shape: the output shape (or a SpecError when
it cannot apply), the module, the parameters and MACs, and its name in the layer table.
Validation (spec.py), the network (network.py), the layer table (table.py), the pattern reading
(pattern.py) and the page's editor (GET /api/layers) all read the types from TYPES, so adding a
type is writing its class here and listing it in TYPES; tests fail until docs/layer-spec.md has a
section for it and tests/models/test_model_network.py a layer of it (checked against torch).
"""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from . import modules, whiten
from .cost import LayerRow, batchnorm_params, conv_macs, conv_params, fc_macs, fc_params, window_output_size
from .fields import (Field, Shape, SpecError, boolean, branch_list, choice, factor, fmt_shape, layer_list,
                     non_negative, positive, probability)

Path = tuple[int, ...]
# The classic pattern's parts (pattern.py): "input" is INPUT; "block" breaks the chain (`why`);
# "inner" is read as the block's sublayers; "left out" rides along with the layer before it.
PATTERN = ("input", "conv", "act", "pool", "globalpool", "fc", "softmax", "block", "inner", "left out")


class LayerType:
    """What every type has. A subclass sets the class attributes and overrides what differs from a
    layer that keeps its input's shape and has no parameters."""
    type: str
    about: str  # one sentence for the page's editor
    fields: dict[str, Field] = {}  # in the order of the normalised spec
    pattern: str  # its place in the classic pattern: one of PATTERN
    why: str = ""  # "block": why it breaks the chain; "inner": what it counts as
    image: bool = False  # takes only a (C, H, W) input
    position: str | None = None  # "first" or "last": only there, at the top level
    start: dict[str, Any] = {}  # a new layer's values in the editor, for its required fields

    def shape(self, layer: dict, shape: Shape, where: str, path: Path) -> Shape:
        """The output shape of a normalised layer; raises SpecError naming `where` when it cannot apply."""
        return shape

    def module(self, layer: dict, shape: Shape) -> nn.Module:
        raise NotImplementedError(f"{self.type} builds no module")

    def cost(self, layer: dict, shape: Shape, out: Shape) -> tuple[int, int, int]:
        """(params, trainable, macs) of a layer that is not a block (a block's are its sublayers')."""
        return 0, 0, 0

    def name(self, layer: dict) -> str:
        """A short human name for the layer table: 'conv 5x5, 16 filters, pad 2'."""
        return self.type

    def parts(self, layer: dict) -> list[tuple[Path, list[dict]]]:
        """A block's lists of sublayers, each with the prefix of its sublayers' paths."""
        return []

    def children(self, layer: dict, shape: Shape, out: Shape, path: Path, depth: int) -> list[LayerRow]:
        """The layer table's rows for a block's sublayers."""
        return [row for prefix, part in self.parts(layer) for row in table_rows(part, shape, path + prefix, depth)]


def window(where: str, path: Path, shape: Shape, size: int, stride: int, pad: int) -> tuple[int, int]:
    """Output H, W of a size x size window sliding with stride over a padded (C, H, W) input."""
    _, h, w = shape
    if size > h + 2 * pad or size > w + 2 * pad:
        raise SpecError(f"{where}: kernel {size} is larger than its input {h}x{w} with pad {pad}", path)
    return window_output_size(h, size, stride, pad), window_output_size(w, size, stride, pad)


def strided(layer: dict, stride: int) -> str:
    """', stride 2, pad 1' for the stride and pad that differ from their defaults."""
    return "".join(f", {key} {layer[key]}" for key, default in (("stride", stride), ("pad", 0))
                   if layer[key] != default)


class Input(LayerType):
    type, pattern, position = "input", "input", "first"
    about = "The network's input image: channels x height x width (3x32x32 when there is no input layer)."
    fields = {"channels": positive(3), "height": positive(32), "width": positive(32)}

    def shape(self, layer, shape, where, path):
        return layer["channels"], layer["height"], layer["width"]

    def module(self, layer, shape):
        return nn.Identity()

    def name(self, layer):
        return f"input {layer['channels']}x{layer['height']}x{layer['width']}"


class Conv(LayerType):
    type, pattern, image = "conv", "conv", True
    about = "A convolution: filters of size x size slide over the padded input, stride apart."
    fields = {"filters": positive(), "size": positive(), "stride": positive(1), "pad": non_negative(0),
              "bias": boolean(True)}
    start = {"filters": 16, "size": 3, "pad": 1}

    def shape(self, layer, shape, where, path):
        return (layer["filters"], *window(where, path, shape, layer["size"], layer["stride"], layer["pad"]))

    def module(self, layer, shape):
        return nn.Conv2d(shape[0], layer["filters"], layer["size"], layer["stride"], layer["pad"], bias=layer["bias"])

    def cost(self, layer, shape, out):
        params = conv_params(shape[0], out[0], layer["size"], layer["bias"])
        return params, params, conv_macs(shape[0], out[0], layer["size"], *out[1:])

    def name(self, layer):
        return f"conv {layer['size']}x{layer['size']}, {layer['filters']} filters{strided(layer, 1)}" + (
            "" if layer["bias"] else ", no bias")


class Pool(LayerType):
    type, pattern, image = "pool", "pool", True
    about = "The max (or average) of each size x size window, channel by channel; no parameters."
    fields = {"mode": choice("max", "avg", default="max"), "size": positive(2), "stride": positive(same_as="size"),
              "pad": non_negative(0)}

    def shape(self, layer, shape, where, path):
        if layer["pad"] > layer["size"] // 2:
            raise SpecError(f"{where}: pad {layer['pad']} must be at most half the window size {layer['size']}", path)
        return (shape[0], *window(where, path, shape, layer["size"], layer["stride"], layer["pad"]))

    def module(self, layer, shape):
        pool = nn.MaxPool2d if layer["mode"] == "max" else nn.AvgPool2d
        return pool(layer["size"], layer["stride"], layer["pad"])

    def name(self, layer):
        return f"{layer['mode']} pool {layer['size']}x{layer['size']}{strided(layer, layer['size'])}"


class GlobalPool(LayerType):
    type, pattern, image = "globalpool", "globalpool", True
    about = "The average (or max) of each channel: C x H x W -> (C,)."
    fields = {"mode": choice("avg", "max", default="avg")}

    def shape(self, layer, shape, where, path):
        return (shape[0],)

    def module(self, layer, shape):
        return modules.GlobalPool(layer["mode"])

    def name(self, layer):
        return f"global {layer['mode']} pool"


class Activation(LayerType):
    pattern = "act"

    def __init__(self, kind: str, module: type[nn.Module], about: str):
        self.type, self.builds, self.about = kind, module, about

    def module(self, layer, shape):
        return self.builds()


ACTIVATIONS = (Activation("relu", nn.ReLU, "max(0, x), value by value."),
               Activation("sigmoid", nn.Sigmoid, "1 / (1 + exp(-x)), value by value: from 0 to 1."),
               Activation("tanh", nn.Tanh, "tanh(x), value by value: from -1 to 1."),
               Activation("gelu", nn.GELU, "x * Φ(x), value by value (Φ: the standard normal's CDF): a smooth relu."))


class BatchNorm(LayerType):
    type, pattern = "batchnorm", "left out"
    about = "Normalises each channel over the batch, then scales and shifts it (2 parameters per channel)."

    def module(self, layer, shape):
        return nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0])

    def cost(self, layer, shape, out):
        return batchnorm_params(shape[0]), batchnorm_params(shape[0]), 0


class Dropout(LayerType):
    type, pattern = "dropout", "left out"
    about = "Zeroes each value with probability p while training."
    fields = {"p": probability(0.5)}

    def module(self, layer, shape):
        return nn.Dropout(layer["p"])

    def name(self, layer):
        return f"dropout {layer['p']}"


class Flatten(LayerType):
    type, pattern = "flatten", "left out"
    about = "C x H x W -> (C*H*W,)."

    def shape(self, layer, shape, where, path):
        return (math.prod(shape),)

    def module(self, layer, shape):
        return nn.Flatten()


class Scale(LayerType):
    type, pattern = "scale", "left out"
    about = "Multiplies its input by a constant factor; no parameters."
    fields = {"factor": factor()}
    start = {"factor": 0.125}

    def module(self, layer, shape):
        return modules.Scale(layer["factor"])

    def name(self, layer):
        return f"scale x{layer['factor']:g}"


class FC(LayerType):
    type, pattern = "fc", "fc"
    about = "Fully connected: every unit sees every input value (an image is flattened first)."
    fields = {"units": positive(), "bias": boolean(True)}
    start = {"units": 10}

    def shape(self, layer, shape, where, path):
        return (layer["units"],)

    def module(self, layer, shape):
        return modules.Dense(math.prod(shape), layer["units"], bias=layer["bias"])

    def cost(self, layer, shape, out):
        params = fc_params(math.prod(shape), out[0], layer["bias"])
        return params, params, fc_macs(math.prod(shape), out[0])

    def name(self, layer):
        return f"fc {layer['units']}" + ("" if layer["bias"] else ", no bias")


class Softmax(LayerType):
    type, pattern, position = "softmax", "softmax", "last"
    about = "The scores as probabilities; the last layer (the module returns the logits)."

    def shape(self, layer, shape, where, path):
        if len(shape) != 1:
            raise SpecError(f"{where}: expects a vector input, got {fmt_shape(shape)}; add fc or globalpool before it",
                            path)
        return shape

    def module(self, layer, shape):
        return nn.Identity()  # training's loss and inference apply the softmax


class Whiten(LayerType):
    type, pattern, image = "whiten", "conv", True
    about = ("A frozen conv that whitens size x size patches, set from the training images (the speed runs); "
             "its bias, if any, is trained.")
    fields = {"size": positive(2), "bias": boolean(False)}

    def shape(self, layer, shape, where, path):
        size = layer["size"]
        return (2 * shape[0] * size * size, *window(where, path, shape, size, 1, 0))

    def module(self, layer, shape):
        return whiten.Whiten(shape[0], layer["size"], bias=layer["bias"])

    def cost(self, layer, shape, out):
        params = conv_params(shape[0], out[0], layer["size"], bias=layer["bias"])
        return params, out[0] if layer["bias"] else 0, conv_macs(shape[0], out[0], layer["size"], *out[1:])

    def name(self, layer):
        return f"whiten {layer['size']}x{layer['size']} (frozen" + (", trained bias)" if layer["bias"] else ")")


class Residual(LayerType):
    type, pattern, image = "residual", "block", True
    about = "activation(body(x) + shortcut(x)): the input skips past the body's layers (ResNet)."
    why = ("a residual block adds its input to its output, y = F(x) + x: the input skips past the block's layers, "
           "so the network is no longer one chain of layers (ResNet, 2015)")
    fields = {"layers": layer_list(), "activation": choice("none", *(a.type for a in ACTIVATIONS), default="none"),
              "shortcut": choice("auto", "identity", "conv", default="auto")}
    start = {"layers": [{"type": "conv", "filters": 16, "size": 3, "pad": 1}, {"type": "relu"}]}

    def shape(self, layer, shape, where, path):
        out = sequence_shape(layer["layers"], shape, where, path)
        if len(out) != 3:
            raise SpecError(f"{where}: the body must give a 3-D (C,H,W) output to add to its input, "
                            f"got a vector {fmt_shape(out)}", path)
        self.shortcut_stride(layer, shape, out, where, path)
        return out

    @staticmethod
    def shortcut_stride(layer: dict, shape: Shape, out: Shape, where: str = "", path: Path = ()) -> int | None:
        """Stride of the 1x1 conv shortcut, or None when the shortcut is the identity."""
        if layer["shortcut"] != "conv" and out == shape:
            return None
        if layer["shortcut"] == "identity":
            what = "channel mismatch" if out[1:] == shape[1:] else "shape mismatch"
            raise SpecError(f"{where}: {what}: the body gives {fmt_shape(out)} but the identity shortcut gives "
                            f"{fmt_shape(shape)}; they must match to be added (or use \"shortcut\": \"auto\")", path)
        (_, h, w), (_, ho, wo) = shape, out
        for stride in range(1, max(h, w) + 1):
            if math.ceil(h / stride) == ho and math.ceil(w / stride) == wo:
                return stride
        raise SpecError(f"{where}: the body gives {fmt_shape(out)} from {fmt_shape(shape)}; no strided 1x1 conv "
                        f"shortcut can match it (the body's output size must be ceil(input / stride))", path)

    @staticmethod
    def shortcut_batchnorm(layer: dict) -> bool:
        """The conv shortcut gets a batchnorm when the body has one."""
        return any(sub["type"] == "batchnorm" for sub in layer["layers"])

    def module(self, layer, shape):
        out = output_shape(layer, shape)
        stride = self.shortcut_stride(layer, shape, out)
        if stride is None:
            shortcut: nn.Module = nn.Identity()
        else:
            norm = self.shortcut_batchnorm(layer)
            conv = nn.Conv2d(shape[0], out[0], 1, stride, bias=not norm)
            shortcut = nn.Sequential(conv, nn.BatchNorm2d(out[0])) if norm else nn.Sequential(conv)
        after = nn.Identity() if layer["activation"] == "none" else TYPES[layer["activation"]].module({}, out)
        return modules.Residual(sequential(layer["layers"], shape), shortcut, after)

    def name(self, layer):
        shortcut = {"auto": "", "identity": ", identity shortcut", "conv": ", conv shortcut"}[layer["shortcut"]]
        after = "" if layer["activation"] == "none" else f" + {layer['activation']}"
        return f"residual ({len(layer['layers'])} layers{shortcut}){after}"

    def parts(self, layer):
        return [((), layer["layers"])]

    def children(self, layer, shape, out, path, depth):
        """The body's rows, then the conv shortcut's (path: after the body's layers)."""
        body = super().children(layer, shape, out, path, depth)
        stride = self.shortcut_stride(layer, shape, out)
        if stride is None:
            return body
        norm = self.shortcut_batchnorm(layer)
        params = conv_params(shape[0], out[0], 1, bias=not norm) + (batchnorm_params(out[0]) if norm else 0)
        name = f"shortcut: conv 1x1, {out[0]} filters" + (f", stride {stride}" if stride > 1 else "") + (
            " + batchnorm" if norm else "")
        return body + [LayerRow(path=path + (len(layer["layers"]),), name=name, type="shortcut", output_shape=out,
                                params=params, trainable=params, macs=conv_macs(shape[0], out[0], 1, *out[1:]),
                                depth=depth)]


class Inception(LayerType):
    type, pattern, image = "inception", "block", True
    about = "Branches side by side on the same input, their outputs stacked on channels (GoogLeNet)."
    why = ("an inception block runs several convolutions and a pooling side by side on the same input and "
           "concatenates their outputs: the network branches instead of being one chain (GoogLeNet, 2014)")
    fields = {"branches": branch_list()}
    start = {"branches": [[{"type": "conv", "filters": 8, "size": 1}], [{"type": "conv", "filters": 8, "size": 3,
                                                                         "pad": 1}]]}

    def shape(self, layer, shape, where, path):
        outs: list[Shape] = []
        for b, branch in enumerate(layer["branches"]):
            out = sequence_shape(branch, shape, f"{where}, branch {b}", path + (b,))
            if len(out) != 3:
                raise SpecError(f"{where}, branch {b}: gives a vector {fmt_shape(out)}; branches must give (C,H,W) "
                                "outputs to concatenate", path + (b,))
            if outs and out[1:] != outs[0][1:]:
                raise SpecError(f"{where}: branch {b} gives {fmt_shape(out)} but branch 0 gives "
                                f"{fmt_shape(outs[0])}; all branches must have the same height and width", path + (b,))
            outs.append(out)
        return (sum(o[0] for o in outs), *outs[0][1:])

    def module(self, layer, shape):
        return modules.Inception([sequential(branch, shape) for branch in layer["branches"]])

    def name(self, layer):
        return f"inception ({len(layer['branches'])} branches)"

    def parts(self, layer):
        return [((b,), branch) for b, branch in enumerate(layer["branches"])]


class NiN(LayerType):
    type, pattern, image = "nin", "inner", True
    about = "Network in Network: a size x size conv, then two 1x1 convs, each followed by relu."
    why = "counts as (CONV-RELU)*3: a conv and two 1x1 convs, each followed by relu"
    fields = {"filters": positive(), "size": positive(), "stride": positive(1), "pad": non_negative(0)}
    start = {"filters": 32, "size": 3, "pad": 1}

    @staticmethod
    def layers(layer: dict) -> list[dict]:
        """The layers the block stands for: conv -> relu -> conv 1x1 -> relu -> conv 1x1 -> relu."""
        first = {"type": "conv", "filters": layer["filters"], "size": layer["size"], "stride": layer["stride"],
                 "pad": layer["pad"], "bias": True}
        one = {"type": "conv", "filters": layer["filters"], "size": 1, "stride": 1, "pad": 0, "bias": True}
        return [first, {"type": "relu"}, one, {"type": "relu"}, dict(one), {"type": "relu"}]

    def shape(self, layer, shape, where, path):
        return sequence_shape(self.layers(layer), shape, where, path)

    def module(self, layer, shape):
        return sequential(self.layers(layer), shape)

    def name(self, layer):
        return f"nin {layer['size']}x{layer['size']}, {layer['filters']} filters{strided(layer, 1)}"

    def parts(self, layer):
        return [((), self.layers(layer))]


# Every type, in the order error messages and the editor list them.
TYPES: dict[str, LayerType] = {kind.type: kind for kind in (
    Input(), Conv(), Pool(), GlobalPool(), *ACTIVATIONS, BatchNorm(), Dropout(), Flatten(), Scale(), FC(), Softmax(),
    Whiten(), Residual(), Inception(), NiN())}


def output_shape(layer: dict, shape: Shape, where: str = "layer", path: Path = ()) -> Shape:
    """Output shape of one normalised layer given its input shape; raises SpecError if it cannot apply."""
    kind = TYPES[layer["type"]]
    if kind.image and len(shape) != 3:
        raise SpecError(f"{where}: expects a 3-D input (C,H,W), got a vector {fmt_shape(shape)}", path)
    return kind.shape(layer, shape, where, path)


def sequence_shape(layers: list[dict], shape: Shape, where: str, prefix: Path) -> Shape:
    """Output shape of normalised sublayers run in order (inside a block)."""
    for j, layer in enumerate(layers):
        shape = output_shape(layer, shape, f"{where}, layer {j} ({layer['type']})", prefix + (j,))
    return shape


def module_list(layers: list[dict], shape: Shape) -> list[nn.Module]:
    """Modules for normalised layers run in order from `shape`."""
    built = []
    for layer in layers:
        built.append(TYPES[layer["type"]].module(layer, shape))
        shape = output_shape(layer, shape)
    return built


def sequential(layers: list[dict], shape: Shape) -> nn.Sequential:
    return nn.Sequential(*module_list(layers, shape))


def table_rows(layers: list[dict], shape: Shape, prefix: Path, depth: int) -> list[LayerRow]:
    """Layer table rows for normalised layers run in order from `shape`, each block's row followed by
    its sublayers' rows (a block costs what its direct sublayers cost)."""
    table: list[LayerRow] = []
    for i, layer in enumerate(layers):
        path, kind = prefix + (i,), TYPES[layer["type"]]
        out = output_shape(layer, shape)
        children = kind.children(layer, shape, out, path, depth + 1)
        if children:
            direct = [row for row in children if row.depth == depth + 1]
            params, trainable, macs = (sum(getattr(row, key) for row in direct)
                                       for key in ("params", "trainable", "macs"))
        else:
            params, trainable, macs = kind.cost(layer, shape, out)
        table.append(LayerRow(path=path, name=kind.name(layer), type=layer["type"], output_shape=out, params=params,
                              trainable=trainable, macs=macs, depth=depth))
        table += children
        shape = out
    return table
