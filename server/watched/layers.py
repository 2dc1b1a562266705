"""The layer table of any PyTorch model: the modules the page shows, with their costs.

    layers = layer_table(model, probe)               # every leaf module the forward pass calls
    layers = layer_table(model, probe, ["layer1", "fc"])   # or those named, blocks included
    layers[0].row                                    # a LayerRow: the page's layer table

One forward pass of the probe's first image (eval mode, no gradients) with forward hooks records
each module's output shape and, for the MACs of a named block, those of the conv and fc layers
inside it. When the model's output is (N, K) class scores, a last row of type "softmax" (no
module) stands for the probabilities. The model's modes are put back and no hook is left.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..models.cost import LayerRow

NAMES_SHOWN = 20  # module names listed at most when a name is unknown
CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
TYPES: dict[type[nn.Module], str] = {  # the page's and docs' words for the layer types; else the class, lower-cased
    nn.Conv2d: "conv", nn.Linear: "fc", nn.MaxPool2d: "pool", nn.AvgPool2d: "pool", nn.AdaptiveAvgPool2d: "pool",
    nn.AdaptiveMaxPool2d: "pool", nn.ReLU: "relu", nn.LeakyReLU: "relu", nn.GELU: "gelu", nn.Sigmoid: "sigmoid",
    nn.Tanh: "tanh", nn.BatchNorm1d: "batchnorm", nn.BatchNorm2d: "batchnorm", nn.Dropout: "dropout",
    nn.Flatten: "flatten"}
NOTHING = (nn.Identity, nn.Sequential, nn.ModuleList, nn.ModuleDict)  # as leaves: their input as it is, or no forward
SOFTMAX_NAME = "output"  # the WatchedLayer name of the softmax row (it has no module)


@dataclass
class WatchedLayer:
    index: int  # its place in the table: what probe blobs' `layer` refers to
    name: str  # the module's qualified name ("layer1.0.conv1"); "output" for the softmax row
    module: nn.Module | None  # None for the softmax row
    row: LayerRow


def pick_layers(model: nn.Module, names: list[str] | None = None) -> list[tuple[str, nn.Module]]:
    """The modules named (blocks too), in that order; by default every leaf module but Identity (and
    empty containers: `shortcut = nn.Sequential()`). ValueError for a name that is not one of the model's modules."""
    modules = dict(model.named_modules())
    if names is None:
        return [(name, m) for name, m in modules.items()
                if name and next(m.children(), None) is None and not isinstance(m, NOTHING)]
    unknown = [name for name in names if name not in modules]
    if unknown:
        known = [name for name in modules if name]
        more = f", ... ({len(known)} in all)" if len(known) > NAMES_SHOWN else ""
        raise ValueError(f"no module named {', '.join(map(repr, unknown))} in the model; its modules are "
                         f"{', '.join(known[:NAMES_SHOWN])}{more}")
    return [(name, modules[name]) for name in names]


def layer_table(model: nn.Module, probe: torch.Tensor, names: list[str] | None = None) -> list[WatchedLayer]:
    """The picked modules (pick_layers) the forward pass of probe[:1] calls, each with its LayerRow,
    then the softmax row when the model's output is (N, K). ValueError when the model cannot run on
    the probe, or a module named is not called."""
    picked = pick_layers(model, names)
    costly = CONVS + (nn.Linear,)  # what a block's MACs add up
    watched = {m for _, m in picked} | {sub for _, m in picked for sub in m.modules() if isinstance(sub, costly)}
    shapes: dict[nn.Module, tuple[int, ...]] = {}  # the first call's output, without the batch dimension

    def record(module: nn.Module, inputs: Any, out: Any) -> None:
        t = first_tensor(out)
        if t is not None and module not in shapes:
            shapes[module] = tuple(t.shape[1:])

    x = probe[:1].to(model_device(model), copy=True)  # a copy: the model's in-place ops never reach the probe
    with evaluating(model), hooked((m, record) for m in watched), torch.no_grad():
        try:
            logits = first_tensor(model(x))
        except torch.cuda.OutOfMemoryError:  # a RuntimeError, but not the probe's shape
            raise
        except (RuntimeError, ValueError, TypeError, IndexError) as e:
            raise ValueError(f"the model cannot run on a probe of shape {tuple(probe.shape)} "
                             f"(is that the input it takes?): {e}") from e
    layers: list[WatchedLayer] = []
    for name, module in picked:
        if module not in shapes:
            if names is not None:
                raise ValueError(f"module {name!r} is not called in the forward pass (or returns no tensor)")
            continue
        leaf = next(module.children(), None) is None
        macs = _macs(module, shapes[module]) if leaf else sum(
            _macs(m, shapes[m]) for m in module.modules() if isinstance(m, costly) and m in shapes)
        params = list(module.parameters())
        row = LayerRow(path=(len(layers),), name=f"{name}: {describe(module)}", type=layer_type(module),
                       output_shape=shapes[module], params=sum(p.numel() for p in params),
                       trainable=sum(p.numel() for p in params if p.requires_grad), macs=macs, depth=0)
        layers.append(WatchedLayer(len(layers), name, module, row))
    if logits is not None and logits.dim() == 2:
        row = LayerRow(path=(len(layers),), name=f"{SOFTMAX_NAME}: softmax over the classes", type="softmax",
                       output_shape=(logits.shape[1],), params=0, trainable=0, macs=0, depth=0)
        layers.append(WatchedLayer(len(layers), SOFTMAX_NAME, None, row))
    return layers


def layer_type(module: nn.Module) -> str:
    """The page's word for the module's type ("conv", "fc", ...; subclasses too), else its class, lower-cased."""
    return next((TYPES[c] for c in type(module).__mro__ if c in TYPES), type(module).__name__.lower())


def describe(module: nn.Module) -> str:
    """Its class and main hyperparameters: "Conv2d 1→6, 5x5, pad 2", "Linear 400→120", "ReLU"."""
    kind = type(module).__name__
    if isinstance(module, CONVS):
        return (f"{kind} {module.in_channels}→{module.out_channels}, {_size(module.kernel_size)}"
                + _option("stride", module.stride, 1) + _option("pad", module.padding, 0)
                + _option("dilation", module.dilation, 1) + _option("groups", module.groups, 1))
    if isinstance(module, nn.Linear):
        return f"{kind} {module.in_features}→{module.out_features}"
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        return (f"{kind} {_size(module.kernel_size)}" + _option("stride", module.stride, module.kernel_size)
                + _option("pad", module.padding, 0))
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return f"{kind} to {_size(module.output_size)}"
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return f"{kind} {module.num_features}"
    if isinstance(module, nn.modules.dropout._DropoutNd):
        return f"{kind} p={module.p}"
    return kind


def _size(value: int | tuple[int, ...]) -> str:
    """5 -> "5x5" (the 2-d layers' square windows), (3, 1) -> "3x1", (5,) -> "5"."""
    return "x".join(map(str, value if isinstance(value, tuple) else (value, value)))


def _flat(value: Any) -> Any:
    """(2, 2) -> 2, (2, 1) -> "2x1"; an int or a string ("same") as it is."""
    if isinstance(value, tuple):
        return value[0] if len(set(value)) == 1 else "x".join(map(str, value))
    return value


def _option(label: str, value: Any, default: Any) -> str:
    """", stride 2" unless the value is the default."""
    return "" if _flat(value) == _flat(default) else f", {label} {_flat(value)}"


def _macs(module: nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates per image of a conv, fc or batchnorm layer with this output shape; else 0."""
    elements = math.prod(shape)
    if isinstance(module, CONVS):
        return elements * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):  # one dot product of in_features per output value
        return elements * module.in_features
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return elements
    return 0


def first_tensor(out: Any) -> torch.Tensor | None:
    """out itself when a tensor, else the first tensor in it (tuples, lists, dicts), else None."""
    if isinstance(out, torch.Tensor):
        return out
    items = out.values() if isinstance(out, dict) else out if isinstance(out, (tuple, list)) else ()
    return next((t for t in map(first_tensor, items) if t is not None), None)


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters (or buffers) are; the CPU for a model with neither."""
    t = next(model.parameters(), None)
    t = next(model.buffers(), None) if t is None else t
    return t.device if t is not None else torch.device("cpu")


@contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """The model in eval mode, then every module put back in the mode it had (not merely the root's)."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


@contextmanager
def hooked(hooks: Iterable[tuple[nn.Module, Callable[..., Any]]]) -> Iterator[None]:
    """Forward hooks attached for the block's length, removed however it ends."""
    handles = []
    try:
        for module, hook in hooks:
            handles.append(module.register_forward_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()
