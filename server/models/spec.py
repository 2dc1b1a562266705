"""The layer spec: field checking, defaults, and shape inference, with errors that name the layer.

A spec is a JSON list of layers, e.g. [{"type": "conv", "filters": 16, "size": 5, "pad": 2}, ...].
Shapes are (C, H, W) for images and (N,) for vectors, without the batch dimension.
Each type's fields and shape are in layers.py; docs/layer-spec.md documents them.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from .fields import Shape, SpecError, describe, fmt_shape, show
from .layers import TYPES, output_shape

DEFAULT_INPUT: Shape = (3, 32, 32)
MAX_NESTING = 16  # blocks inside blocks; the presets nest one deep. Far deeper specs would crash the
#                   server on recursion (checking them, and writing their layer tables as JSON).
MAX_LAYERS = 1000  # in all, blocks' layers included; the largest preset has 60. Checking costs ~60 us a layer.
SUBLAYERS = {name: field.kind for kind in TYPES.values() for name, field in kind.fields.items()
             if field.kind in ("layers", "branches")}  # fields that hold layers: "layers" -> "layers", ...


def _normalise(layer: Any, where: str, path: tuple[int, ...], nesting: int = 0) -> dict:
    """Check a layer's type and fields, and its sublayers', and fill in defaults; `nesting` counts
    the blocks around this layer."""
    known = ", ".join(TYPES)
    if not isinstance(layer, dict):
        raise SpecError(f'{where}: a layer must be an object like {{"type": "conv", ...}}, got {describe(layer)}',
                        path)
    kind = layer.get("type")
    if kind is None:
        raise SpecError(f'{where}: missing "type"; known types: {known}', path)
    if not isinstance(kind, str) or kind not in TYPES:
        raise SpecError(f"{where}: unknown type {show(kind)}; known types: {known}", path)
    fields = TYPES[kind].fields
    where = f"{where} ({kind})"
    if TYPES[kind].position and len(path) > 1:
        raise SpecError(f"{where}: {kind} is only allowed at the top level of the network, not inside a block", path)
    for name in layer:
        if name != "type" and name not in fields:
            close = difflib.get_close_matches(name, fields, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else (
                f"; {kind} takes {', '.join(map(json.dumps, fields))}" if fields else f"; {kind} takes no fields")
            raise SpecError(f'{where}: unknown field "{name}"{hint}', path)
    out = {"type": kind}
    for name, field in fields.items():
        if name not in layer:
            if field.required:
                raise SpecError(f'{where}: missing required field "{name}"', path)
            out[name] = out[field.same_as] if field.same_as else field.default
            continue
        problem = field.check(layer[name])
        if problem:
            raise SpecError(f'{where}: "{name}" {problem}', path)
        out[name] = layer[name]
    blocks = [name for name in fields if name in SUBLAYERS]
    if blocks and nesting == MAX_NESTING:
        raise SpecError(f"{where}: blocks may be nested at most {MAX_NESTING} deep", path)
    for name in blocks:
        if SUBLAYERS[name] == "layers":
            out[name] = [_normalise(sub, f"{where}, layer {j}", path + (j,), nesting + 1)
                         for j, sub in enumerate(out[name])]
            continue
        for b, branch in enumerate(out[name]):
            if not branch:
                raise SpecError(f"{where}, branch {b}: a branch needs at least one layer", path + (b,))
        out[name] = [[_normalise(sub, f"{where}, branch {b}, layer {j}", path + (b, j), nesting + 1)
                      for j, sub in enumerate(branch)] for b, branch in enumerate(out[name])]
    return out


def validate(spec: Any, num_classes: int | None = 10) -> list[dict]:
    """Check a spec and return it normalised (every field present, defaults filled in); raises SpecError.

    With num_classes None the output may have any shape: a stack of layers, not a classifier
    (the cost lab compares such stacks)."""
    if not isinstance(spec, list):
        raise SpecError(f"the spec must be a list of layers, got {describe(spec)}")
    if not spec:
        raise SpecError("the spec is empty: it needs at least one layer")
    if _count_layers(spec) > MAX_LAYERS:
        raise SpecError(f"the spec has more than {MAX_LAYERS} layers (blocks' layers included)")
    layers = [_normalise(layer, f"layer {i}", (i,)) for i, layer in enumerate(spec)]
    shape = DEFAULT_INPUT
    for i, layer in enumerate(layers):
        kind, where = layer["type"], f"layer {i} ({layer['type']})"
        position = TYPES[kind].position
        if (position == "first" and i > 0) or (position == "last" and i < len(layers) - 1):
            raise SpecError(f"{where}: {kind} must be the {position} layer", (i,))
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
            for name, kind in SUBLAYERS.items():
                value = layer.get(name)
                if isinstance(value, list):
                    stack.extend(value if kind == "layers" else
                                 (x for branch in value if isinstance(branch, list) for x in branch))
    return count


def with_input(spec: list, shape: Shape) -> list:
    """The spec taking images of `shape` (C, H, W): its input layer set to it, or one put first.

    The data decide what the network sees: a preset written for 3x32x32 trains on 1x28x28 images
    when its layers allow it (the fc layers' inputs follow), else validate says which layer cannot."""
    channels, height, width = shape
    first = spec[0] if spec and isinstance(spec[0], dict) else {}
    if first.get("type") == "input":
        if (first.get("channels"), first.get("height"), first.get("width")) == shape:
            return spec
        return [{**first, "channels": channels, "height": height, "width": width}, *spec[1:]]
    if shape == DEFAULT_INPUT:
        return spec
    return [{"type": "input", "channels": channels, "height": height, "width": width}, *spec]


def input_shape(layers: list[dict]) -> Shape:
    """The network's input shape: the input layer's, or 3x32x32."""
    first = layers[0]
    return (first["channels"], first["height"], first["width"]) if first["type"] == "input" else DEFAULT_INPUT
