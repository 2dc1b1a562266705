"""The layer table: output shape, parameters and MACs of every layer, and its text rendering."""

from __future__ import annotations

import math

from .cost import LayerRow, batchnorm_params, conv_macs, conv_params, fc_macs, fc_params
from .spec import (Shape, fmt_shape, input_shape, nin_layers, output_shape, shortcut_batchnorm,
                   shortcut_stride, validate)


def describe(layer: dict) -> str:
    """A short human name for a normalised layer."""
    kind = layer["type"]
    if kind in ("conv", "nin", "pool"):
        defaults = {"stride": layer["size"] if kind == "pool" else 1, "pad": 0}
        extra = "".join(f", {key} {layer[key]}" for key, value in defaults.items() if layer[key] != value)
    if kind == "conv":
        return f"conv {layer['size']}x{layer['size']}, {layer['filters']} filters{extra}" + (
            "" if layer["bias"] else ", no bias")
    if kind == "nin":
        return f"nin {layer['size']}x{layer['size']}, {layer['filters']} filters{extra}"
    if kind == "pool":
        return f"{layer['mode']} pool {layer['size']}x{layer['size']}{extra}"
    if kind == "input":
        return f"input {layer['channels']}x{layer['height']}x{layer['width']}"
    if kind == "globalpool":
        return f"global {layer['mode']} pool"
    if kind == "dropout":
        return f"dropout {layer['p']}"
    if kind == "scale":
        return f"scale x{layer['factor']:g}"
    if kind == "fc":
        return f"fc {layer['units']}" + ("" if layer["bias"] else ", no bias")
    if kind == "whiten":
        return f"whiten {layer['size']}x{layer['size']} (frozen)"
    if kind == "residual":
        shortcut = {"auto": "", "identity": ", identity shortcut", "conv": ", conv shortcut"}[layer["shortcut"]]
        after = "" if layer["activation"] == "none" else f" + {layer['activation']}"
        return f"residual ({len(layer['layers'])} layers{shortcut}){after}"
    if kind == "inception":
        return f"inception ({len(layer['branches'])} branches)"
    return kind  # relu, sigmoid, tanh, gelu, batchnorm, flatten, softmax


def _leaf_cost(layer: dict, shape: Shape, out: Shape) -> tuple[int, int, int]:
    """(params, trainable, macs) of a layer that is not a block."""
    kind = layer["type"]
    if kind in ("conv", "whiten"):
        bias = layer.get("bias", False)
        params = conv_params(shape[0], out[0], layer["size"], bias)
        return params, params if kind == "conv" else 0, conv_macs(shape[0], out[0], layer["size"], *out[1:])
    if kind == "fc":
        params = fc_params(math.prod(shape), out[0], layer["bias"])
        return params, params, fc_macs(math.prod(shape), out[0])
    if kind == "batchnorm":
        return batchnorm_params(shape[0]), batchnorm_params(shape[0]), 0
    return 0, 0, 0


def _shortcut_row(layer: dict, shape: Shape, out: Shape, path: tuple[int, ...], depth: int) -> LayerRow | None:
    stride = shortcut_stride(layer, shape, out)
    if stride is None:
        return None
    norm = shortcut_batchnorm(layer)
    params = conv_params(shape[0], out[0], 1, bias=not norm) + (batchnorm_params(out[0]) if norm else 0)
    name = f"shortcut: conv 1x1, {out[0]} filters" + (f", stride {stride}" if stride > 1 else "") + (
        " + batchnorm" if norm else "")
    return LayerRow(path=path + (len(layer["layers"]),), name=name, type="shortcut", output_shape=out, params=params,
                    trainable=params, macs=conv_macs(shape[0], out[0], 1, *out[1:]), depth=depth)


def _rows(layers: list[dict], shape: Shape, prefix: tuple[int, ...], depth: int) -> list[LayerRow]:
    """Rows for layers run in order from `shape`, each block's row followed by its sublayers' rows."""
    rows: list[LayerRow] = []
    for i, layer in enumerate(layers):
        path, kind = prefix + (i,), layer["type"]
        out = output_shape(layer, shape)
        if kind == "nin":
            children = _rows(nin_layers(layer), shape, path, depth + 1)
        elif kind == "residual":
            children = _rows(layer["layers"], shape, path, depth + 1)
            shortcut = _shortcut_row(layer, shape, out, path, depth + 1)
            children += [shortcut] if shortcut else []
        elif kind == "inception":
            children = [row for b, branch in enumerate(layer["branches"])
                        for row in _rows(branch, shape, path + (b,), depth + 1)]
        else:
            children = []
        if children:
            direct = [row for row in children if row.depth == depth + 1]
            cost = tuple(sum(getattr(row, key) for row in direct) for key in ("params", "trainable", "macs"))
        else:
            cost = _leaf_cost(layer, shape, out)
        params, trainable, macs = cost
        rows.append(LayerRow(path=path, name=describe(layer), type=kind, output_shape=out, params=params,
                             trainable=trainable, macs=macs, depth=depth))
        rows += children
        shape = out
    return rows


def layer_table(spec: list[dict], num_classes: int | None = 10) -> list[LayerRow]:
    """Validate `spec` and return one row per layer, block rows followed by their sublayers' rows
    (num_classes None: any output shape, see validate)."""
    layers = validate(spec, num_classes)
    return _rows(layers, input_shape(layers), (), 0)


def totals(rows: list[LayerRow]) -> tuple[int, int]:
    """(params, macs) of the whole network: top-level rows only, so blocks are not counted twice."""
    top = [row for row in rows if row.depth == 0]
    return sum(row.params for row in top), sum(row.macs for row in top)


def readable(n: int) -> str:
    """3920000 -> '3.92M'; 22466 -> '22.5K'."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)


def format_table(rows: list[LayerRow]) -> str:
    """The text table `convscope summary` prints: one line per layer, then the totals."""
    header = ("#", "Layer", "Output shape", "Params", "MACs")
    lines = []
    for row in rows:
        frozen = row.params - row.trainable
        params = f"{row.params:,}" + ("" if not frozen else " frozen" if not row.trainable else f" ({frozen:,} frozen)")
        lines.append((".".join(map(str, row.path)), "  " * row.depth + row.name, fmt_shape(row.output_shape),
                      params, f"{row.macs:,}"))
    widths = [max(len(line[k]) for line in [header, *lines]) for k in range(5)]
    align = ("<", "<", "<", ">", ">")

    def fmt(line: tuple[str, ...]) -> str:
        return "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(line, align, widths)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    params, macs = totals(rows)
    trainable = sum(row.trainable for row in rows if row.depth == 0)
    frozen = f" ({params - trainable:,} frozen, not trained)" if trainable < params else ""
    return "\n".join([fmt(header), rule, *map(fmt, lines), rule,
                      f"Total params: {params:,} ({readable(params)}){frozen}",
                      f"Total MACs:   {macs:,} ({readable(macs)}) per image"])
