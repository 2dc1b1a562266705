"""The layer spec: field checking, defaults, and shape inference, with errors that name the layer.

A spec is a JSON list of layers, e.g. [{"type": "conv", "filters": 16, "size": 5, "pad": 2}, ...].
Shapes are (C, H, W) for images and (N,) for vectors, without the batch dimension.
The layer types and their fields are documented in docs/layer-spec.md.
"""

from __future__ import annotations

import difflib
import json
import math
from typing import Any, Callable

from .cost import window_output_size

Shape = tuple[int, ...]
Check = Callable[[Any], str | None]  # returns a problem, or None when the value is fine

DEFAULT_INPUT: Shape = (3, 32, 32)
REQUIRED = object()  # marks a field without a default
MAX_NESTING = 16  # blocks inside blocks; the presets nest one deep. Far deeper specs would crash the
#                   server on recursion (checking them, and writing their layer tables as JSON).
MAX_LAYERS = 1000  # in all, blocks' layers included; the largest preset has 60. Checking costs ~60 us a layer.


class SpecError(ValueError):
    """A spec problem; `path` is the layer's index, nested for blocks: (4, 1) or (4, branch, 1)."""

    def __init__(self, message: str, path: tuple[int, ...] = ()):
        super().__init__(message)
        self.path = path


def _show(value: Any) -> str:
    """A value as the user wrote it in JSON, cut short."""
    try:
        shown = json.dumps(value)
    except (TypeError, ValueError):
        shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _describe(value: Any) -> str:
    kind = {bool: "a boolean", str: "a string", int: "an integer", float: "a number",
            list: "a list", dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)
    return f"{_show(value)} ({kind})"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(value: Any) -> str | None:
    return None if _is_int(value) and value > 0 else f"must be a positive integer, got {_describe(value)}"


def _non_negative(value: Any) -> str | None:
    return None if _is_int(value) and value >= 0 else f"must be an integer >= 0, got {_describe(value)}"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, got {_describe(value)}"


def _probability(value: Any) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1
    return None if ok else f"must be a number in [0, 1), got {_describe(value)}"


def _factor(value: Any) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < abs(value) <= 1000
    return None if ok else f"must be a non-zero number of size at most 1000, got {_describe(value)}"


def _choice(*options: str) -> Check:
    def check(value: Any) -> str | None:
        allowed = ", ".join(map(json.dumps, options))
        return None if value in options else f"must be one of {allowed}, got {_describe(value)}"
    return check


def _layer_list(value: Any) -> str | None:
    return None if isinstance(value, list) and value else f"must be a non-empty list of layers, got {_describe(value)}"


def _branch_list(value: Any) -> str | None:
    ok = isinstance(value, list) and value and all(isinstance(b, list) for b in value)
    return None if ok else f"must be a non-empty list of layer lists, got {_describe(value)}"


ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu")

# type -> field -> (check, default); the order here is the order of the normalised spec.
FIELDS: dict[str, dict[str, tuple[Check, Any]]] = {
    "input": {"channels": (_positive, 3), "height": (_positive, 32), "width": (_positive, 32)},
    "conv": {"filters": (_positive, REQUIRED), "size": (_positive, REQUIRED), "stride": (_positive, 1),
             "pad": (_non_negative, 0), "bias": (_boolean, True)},
    "pool": {"mode": (_choice("max", "avg"), "max"), "size": (_positive, 2), "stride": (_positive, None),
             "pad": (_non_negative, 0)},
    "globalpool": {"mode": (_choice("avg", "max"), "avg")},
    **{name: {} for name in ACTIVATIONS},
    "batchnorm": {},
    "dropout": {"p": (_probability, 0.5)},
    "flatten": {},
    "scale": {"factor": (_factor, REQUIRED)},
    "fc": {"units": (_positive, REQUIRED), "bias": (_boolean, True)},
    "softmax": {},
    "whiten": {"size": (_positive, 2)},
    "residual": {"layers": (_layer_list, REQUIRED), "activation": (_choice("none", *ACTIVATIONS), "none"),
                 "shortcut": (_choice("auto", "identity", "conv"), "auto")},
    "inception": {"branches": (_branch_list, REQUIRED)},
    "nin": {"filters": (_positive, REQUIRED), "size": (_positive, REQUIRED), "stride": (_positive, 1),
            "pad": (_non_negative, 0)},
}
BLOCKS = ("residual", "inception", "nin")


def fmt_shape(shape: Shape) -> str:
    """(16, 8, 8) -> '16x8x8'; (320,) -> '(320,)'."""
    return "x".join(map(str, shape)) if len(shape) == 3 else f"({shape[0]},)"


def nin_layers(layer: dict) -> list[dict]:
    """The layers a NiN block stands for: conv -> relu -> conv 1x1 -> relu -> conv 1x1 -> relu."""
    first = {"type": "conv", "filters": layer["filters"], "size": layer["size"], "stride": layer["stride"],
             "pad": layer["pad"], "bias": True}
    one = {"type": "conv", "filters": layer["filters"], "size": 1, "stride": 1, "pad": 0, "bias": True}
    return [first, {"type": "relu"}, one, {"type": "relu"}, dict(one), {"type": "relu"}]


def _normalise(layer: Any, where: str, path: tuple[int, ...], nesting: int = 0) -> dict:
    """Check a layer's type and fields, and its sublayers', and fill in defaults; `nesting` counts
    the blocks around this layer."""
    known = ", ".join(FIELDS)
    if not isinstance(layer, dict):
        raise SpecError(f'{where}: a layer must be an object like {{"type": "conv", ...}}, got {_describe(layer)}',
                        path)
    kind = layer.get("type")
    if kind is None:
        raise SpecError(f'{where}: missing "type"; known types: {known}', path)
    if not isinstance(kind, str) or kind not in FIELDS:
        raise SpecError(f"{where}: unknown type {_show(kind)}; known types: {known}", path)
    fields = FIELDS[kind]
    where = f"{where} ({kind})"
    if kind in ("input", "softmax") and len(path) > 1:
        raise SpecError(f"{where}: {kind} is only allowed at the top level of the network, not inside a block", path)
    for name in layer:
        if name != "type" and name not in fields:
            close = difflib.get_close_matches(name, fields, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else (
                f"; {kind} takes {', '.join(map(json.dumps, fields))}" if fields else f"; {kind} takes no fields")
            raise SpecError(f'{where}: unknown field "{name}"{hint}', path)
    out = {"type": kind}
    for name, (check, default) in fields.items():
        if name not in layer:
            if default is REQUIRED:
                raise SpecError(f'{where}: missing required field "{name}"', path)
            out[name] = default
            continue
        problem = check(layer[name])
        if problem:
            raise SpecError(f'{where}: "{name}" {problem}', path)
        out[name] = layer[name]
    if kind == "pool" and out["stride"] is None:
        out["stride"] = out["size"]
    if kind in ("residual", "inception") and nesting == MAX_NESTING:
        raise SpecError(f"{where}: blocks may be nested at most {MAX_NESTING} deep", path)
    if kind == "residual":
        out["layers"] = [_normalise(sub, f"{where}, layer {j}", path + (j,), nesting + 1)
                         for j, sub in enumerate(out["layers"])]
    if kind == "inception":
        for b, branch in enumerate(out["branches"]):
            if not branch:
                raise SpecError(f"{where}, branch {b}: a branch needs at least one layer", path + (b,))
        out["branches"] = [[_normalise(sub, f"{where}, branch {b}, layer {j}", path + (b, j), nesting + 1)
                            for j, sub in enumerate(branch)] for b, branch in enumerate(out["branches"])]
    return out


def _window(where: str, path: tuple[int, ...], shape: Shape, size: int, stride: int, pad: int) -> Shape:
    """Output H, W of a size x size window sliding with stride over a padded (C, H, W) input."""
    _, h, w = shape
    if size > h + 2 * pad or size > w + 2 * pad:
        raise SpecError(f"{where}: kernel {size} is larger than its input {h}x{w} with pad {pad}", path)
    return window_output_size(h, size, stride, pad), window_output_size(w, size, stride, pad)


def _needs_image(where: str, path: tuple[int, ...], shape: Shape) -> None:
    if len(shape) != 3:
        raise SpecError(f"{where}: expects a 3-D input (C,H,W), got a vector {fmt_shape(shape)}", path)


def shortcut_stride(layer: dict, shape: Shape, body_out: Shape, where: str = "",
                    path: tuple[int, ...] = ()) -> int | None:
    """Stride of the residual's 1x1 conv shortcut, or None when the shortcut is the identity."""
    if layer["shortcut"] != "conv" and body_out == shape:
        return None
    if layer["shortcut"] == "identity":
        what = "channel mismatch" if body_out[1:] == shape[1:] else "shape mismatch"
        raise SpecError(f"{where}: {what}: the body gives {fmt_shape(body_out)} but the identity shortcut gives "
                        f"{fmt_shape(shape)}; they must match to be added (or use \"shortcut\": \"auto\")", path)
    (_, h, w), (_, ho, wo) = shape, body_out
    for stride in range(1, max(h, w) + 1):
        if math.ceil(h / stride) == ho and math.ceil(w / stride) == wo:
            return stride
    raise SpecError(f"{where}: the body gives {fmt_shape(body_out)} from {fmt_shape(shape)}; no strided 1x1 conv "
                    f"shortcut can match it (the body's output size must be ceil(input / stride))", path)


def shortcut_batchnorm(layer: dict) -> bool:
    """A residual's conv shortcut gets a batchnorm when its body has one."""
    return any(sub["type"] == "batchnorm" for sub in layer["layers"])


def _block(layer: dict, shape: Shape, where: str, path: tuple[int, ...]) -> Shape:
    """Check a block's sublayers and return the block's output shape."""
    kind = layer["type"]
    if kind == "nin":
        return _sequence(nin_layers(layer), shape, where, path)
    if kind == "residual":
        out = _sequence(layer["layers"], shape, where, path)
        if len(out) != 3:
            raise SpecError(f"{where}: the body must give a 3-D (C,H,W) output to add to its input, "
                            f"got a vector {fmt_shape(out)}", path)
        shortcut_stride(layer, shape, out, where, path)
        return out
    outs = []
    for b, branch in enumerate(layer["branches"]):
        out = _sequence(branch, shape, f"{where}, branch {b}", path + (b,))
        if len(out) != 3:
            raise SpecError(f"{where}, branch {b}: gives a vector {fmt_shape(out)}; branches must give (C,H,W) "
                            "outputs to concatenate", path + (b,))
        if outs and out[1:] != outs[0][1:]:
            raise SpecError(f"{where}: branch {b} gives {fmt_shape(out)} but branch 0 gives {fmt_shape(outs[0])}; "
                            "all branches must have the same height and width", path + (b,))
        outs.append(out)
    return (sum(o[0] for o in outs), *outs[0][1:])


def _sequence(layers: list[dict], shape: Shape, where: str, prefix: tuple[int, ...]) -> Shape:
    """Output shape of normalised sublayers run in order (inside a block)."""
    for j, layer in enumerate(layers):
        shape = output_shape(layer, shape, f"{where}, layer {j} ({layer['type']})", prefix + (j,))
    return shape


def output_shape(layer: dict, shape: Shape, where: str = "layer", path: tuple[int, ...] = ()) -> Shape:
    """Output shape of one normalised layer given its input shape; raises SpecError if it cannot apply."""
    kind = layer["type"]
    if kind in ("conv", "pool", "globalpool", "whiten", *BLOCKS):
        _needs_image(where, path, shape)
    if kind == "input":
        return layer["channels"], layer["height"], layer["width"]
    if kind == "conv":
        return (layer["filters"], *_window(where, path, shape, layer["size"], layer["stride"], layer["pad"]))
    if kind == "pool":
        if layer["pad"] > layer["size"] // 2:
            raise SpecError(f"{where}: pad {layer['pad']} must be at most half the window size {layer['size']}", path)
        return (shape[0], *_window(where, path, shape, layer["size"], layer["stride"], layer["pad"]))
    if kind == "whiten":
        size = layer["size"]
        return (2 * shape[0] * size * size, *_window(where, path, shape, size, 1, 0))
    if kind == "globalpool":
        return (shape[0],)
    if kind == "flatten":
        return (math.prod(shape),)
    if kind == "fc":
        return (layer["units"],)
    if kind == "softmax" and len(shape) != 1:
        raise SpecError(f"{where}: expects a vector input, got {fmt_shape(shape)}; add fc or globalpool before it",
                        path)
    if kind in BLOCKS:
        return _block(layer, shape, where, path)
    return shape  # activations, batchnorm, dropout, scale, softmax keep the shape


def validate(spec: Any, num_classes: int | None = 10) -> list[dict]:
    """Check a spec and return it normalised (every field present, defaults filled in); raises SpecError.

    With num_classes None the output may have any shape: a stack of layers, not a classifier
    (the cost lab compares such stacks)."""
    if not isinstance(spec, list):
        raise SpecError(f"the spec must be a list of layers, got {_describe(spec)}")
    if not spec:
        raise SpecError("the spec is empty: it needs at least one layer")
    if _count_layers(spec) > MAX_LAYERS:
        raise SpecError(f"the spec has more than {MAX_LAYERS} layers (blocks' layers included)")
    layers = [_normalise(layer, f"layer {i}", (i,)) for i, layer in enumerate(spec)]
    shape = DEFAULT_INPUT
    for i, layer in enumerate(layers):
        kind, where = layer["type"], f"layer {i} ({layer['type']})"
        if kind == "input" and i > 0:
            raise SpecError(f"{where}: input must be the first layer", (i,))
        if kind == "softmax" and i < len(layers) - 1:
            raise SpecError(f"{where}: softmax must be the last layer", (i,))
        shape = output_shape(layer, shape, where, (i,))
    if num_classes is not None and shape != (num_classes,):
        raise SpecError(f"the network's output is {fmt_shape(shape)}, expected a vector of {num_classes} class "
                        f"scores: end with fc {num_classes} (and softmax)", (len(layers) - 1,))
    return layers


def _count_layers(spec: list) -> int:
    """Layers in a spec, sublayers of blocks included; counting stops past MAX_LAYERS."""
    stack, count = list(spec), 0
    while stack and count <= MAX_LAYERS:
        layer = stack.pop()
        count += 1
        if isinstance(layer, dict):
            if isinstance(layer.get("layers"), list):
                stack.extend(layer["layers"])
            if isinstance(layer.get("branches"), list):
                stack.extend(x for branch in layer["branches"] if isinstance(branch, list) for x in branch)
    return count


def input_shape(layers: list[dict]) -> Shape:
    """The network's input shape: the input layer's, or 3x32x32."""
    first = layers[0]
    return (first["channels"], first["height"], first["width"]) if first["type"] == "input" else DEFAULT_INPUT
