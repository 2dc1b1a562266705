"""The layer table: output shape, parameters and MACs of every layer, and its text rendering.

Each type's row comes from its class in layers.py (its name, cost, and for blocks their sublayers' rows).
"""

from __future__ import annotations

from .cost import LayerRow
from .fields import fmt_shape
from .layers import table_rows
from .spec import input_shape, validate


def layer_table(spec: list[dict], num_classes: int | None = 10) -> list[LayerRow]:
    """Validate `spec` and return one row per layer, block rows followed by their sublayers' rows
    (num_classes None: any output shape, see validate)."""
    layers = validate(spec, num_classes)
    return table_rows(layers, input_shape(layers), (), 0)


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
