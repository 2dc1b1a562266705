"""A classifier recast to slide over a photo of any size: its fully connected layers become convolutions.

    sliding = recast(network)               # a Network (network.py) with its weights, in eval mode
    logits = sliding(photo)                 # (1, classes, rows, cols): one pass over the whole photo
    logits = sliding.exact(photo)           # the same grid, each window exactly as the network sees a crop
    costs = sliding.costs(256, 256)         # MACs: every window separately, one pass, the exact run

Window (i, j) is the network's input-sized crop whose top-left corner is at (i * stride, j * stride),
where stride is the product of the layers' strides (convnetjs: three 2x2 pools, 8 pixels): at that
stride every layer's grid on the photo lines up with its grid on the window.

- A conv or pool layer already slides: it runs as it is, once over the whole photo.
- An fc layer on a C x H x W map is a conv with an H x W kernel (its weights, reshaped to
  units x C x H x W); an fc layer on a vector is a 1x1 conv. Flatten disappears (the fc layer
  takes the map as it is), unless a batchnorm comes between it and the fc layer (one mean per
  value of the flattened map: then the map's H x W patches become channels first) or nothing
  with weights follows it. Global pooling is a pool as large as a window's map. Dropout, softmax,
  activations, batchnorm and scale carry over, value by value.
- Padding is what windows do not share. A conv that pads puts zeros around each 32x32 crop, where
  the one pass over the photo sees the pixels beside the window. `exact` computes every layer once
  over the photo and recomputes, for each window, only its frame: the rows and columns its own
  zeros reach (they widen layer by layer); where the frame covers a window's whole map, that
  layer and the ones after it run window by window. A network without padding (LeNet) has no
  frames, and the one pass is exact.
- Residual and inception blocks slide when their paths move by the same stride; once padding has
  reached them they run window by window. A block whose paths move at different strides (a
  shortcut stride chosen to match the body's output size on one window) is refused: on a larger
  photo its paths no longer line up (NotRecastable, with the layer's path).

MACs are counted as in cost.py (conv and fc layers, biases excluded), by hooks on the convolutions
that actually run; `costs` counts runs on an empty batch (shapes only, no arithmetic) through the
same code, each computation standing for the one photo or the windows it would have run for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .fields import Shape, fmt_shape
from .layers import ACTIVATIONS, TYPES, NiN, Residual, output_shape
from .modules import Inception as InceptionModule
from .modules import Residual as ResidualModule
from .network import Network, build_model

Path = tuple[int, ...]
Frame = tuple[int, int, int, int]  # rows at the top and bottom, columns at the left and right of a window's map
NO_FRAME: Frame = (0, 0, 0, 0)
POINTWISE = frozenset({*(a.type for a in ACTIVATIONS), "dropout", "scale"})  # value by value, no statistics
CHUNK = 128  # windows recomputed at once by `exact` (memory: CHUNK x the largest map of one window)


class NotRecastable(ValueError):
    """The network cannot slide over a larger photo; says which layer and why."""

    def __init__(self, message: str, path: Path = ()) -> None:
        super().__init__(message)
        self.path = path


@dataclass
class Step:
    """One operation of the recast network, on maps of any size."""
    path: Path  # the spec layer it comes from (nested for a NiN block's layers)
    kind: str  # "window" (slides a kernel: conv, pool, patches), "point" (value by value) or "block"
    module: nn.Module
    out: Shape  # its output on one window, (C, H, W)
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int] = (0, 0)
    fill: float = 0.0  # what the padding holds: 0, or -inf for max pooling (which ignores it)
    unpadded: Callable[[torch.Tensor], torch.Tensor] | None = None  # the window op on an input padded already
    macs_per_value: int = 0  # conv: C_in x kh x kw multiply-accumulates per output value
    pads: bool = False  # a block with padding somewhere inside
    frame: Frame = NO_FRAME  # what each window recomputes of this step's output (set by Sliding)
    full: bool = False  # the frame is the whole map: the step runs window by window


@dataclass(frozen=True)
class Row:
    """A spec layer and what it became, for the page."""
    path: Path
    layer: str  # its name in the layer table
    recast: str


@dataclass
class Tally:
    """MACs per step: of the computation over the whole photo, and of the windows' own."""
    steps: int
    shared: list[int] = field(init=False)
    windows: list[int] = field(init=False)
    stands_for: int = 1  # in a run on an empty batch: how many images the computation under way is for

    def __post_init__(self) -> None:
        self.shared, self.windows = [0] * self.steps, [0] * self.steps

    def images(self, x: torch.Tensor) -> int:
        return x.shape[0] or self.stands_for


@dataclass(frozen=True)
class Costs:
    """MACs of sliding over one photo, three ways (lists: per step of the recast network)."""
    windows: int  # windows that fit in the photo
    window: list[int]  # the network on one window (their sum is the layer table's total)
    one_pass: list[int]  # the recast network once over the photo
    shared: list[int]  # the exact run: computed once over the photo
    frames: list[int]  # the exact run: recomputed for the windows (their frames, or all of it), all windows

    @property
    def per_window(self) -> int:
        """The fc network on every window separately."""
        return self.windows * sum(self.window)

    @property
    def exact(self) -> int:
        return sum(self.shared) + sum(self.frames)


# -- blocks on inputs of any size ---------------------------------------------------------------------
def _common(maps: list[torch.Tensor]) -> list[torch.Tensor]:
    """The maps cut to their common height and width (from the top left: their grids line up there)."""
    h, w = min(m.shape[2] for m in maps), min(m.shape[3] for m in maps)
    return [m[:, :, :h, :w] for m in maps]


class SlidingResidual(nn.Module):
    """A residual block on a photo: on a window both paths give the same size; on a photo they may
    differ by a row at the far edges (floor vs ceil), which no window reads."""

    def __init__(self, block: ResidualModule) -> None:
        super().__init__()
        self.body, self.shortcut, self.activation = _sliding(block.body), _sliding(block.shortcut), block.activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        body, shortcut = _common([self.body(x), self.shortcut(x)])
        return self.activation(body + shortcut)


class SlidingInception(nn.Module):
    def __init__(self, block: InceptionModule) -> None:
        super().__init__()
        self.branches = nn.ModuleList(_sliding(branch) for branch in block.branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(_common([branch(x) for branch in self.branches]), dim=1)


def _sliding(module: nn.Module) -> nn.Module:
    """The module with every residual and inception block inside made to run on any size."""
    if isinstance(module, ResidualModule):
        return SlidingResidual(module)
    if isinstance(module, InceptionModule):
        return SlidingInception(module)
    if isinstance(module, nn.Sequential):
        return nn.Sequential(*(_sliding(m) for m in module))
    return module


class Patches(nn.Module):
    """(N, C, H, W) -> (N, C*h*w, H-h+1, W-w+1): every h x w patch's values as channels, in the order
    flatten gives them (channel, row, column). On one window's h x w map: its flatten."""

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        rows, cols = h - self.size[0] + 1, w - self.size[1] + 1
        return F.unfold(x, self.size).view(n, c * self.size[0] * self.size[1], rows, cols)

    def extra_repr(self) -> str:
        return f"size={self.size}"


def _batchnorm2d(norm: nn.BatchNorm1d) -> nn.BatchNorm2d:
    """A BatchNorm1d over vectors as the same normalisation over the channels of 1x1 maps."""
    like = norm.running_mean if norm.running_mean is not None else norm.weight
    out = nn.BatchNorm2d(norm.num_features, norm.eps, norm.momentum, norm.affine, norm.track_running_stats,
                         device=like.device, dtype=like.dtype)
    out.load_state_dict(norm.state_dict())
    return out.eval()


# -- how far a layer's output moves per step over its input ------------------------------------------
def _pads(layers: list[dict]) -> bool:
    for layer in layers:
        if layer.get("pad", 0) > 0:
            return True
        if layer["type"] == "residual" and _pads(layer["layers"]):
            return True
        if layer["type"] == "inception" and any(_pads(branch) for branch in layer["branches"]):
            return True
    return False


def _moves(layers: list[dict], shape: Shape, where: str, prefix: Path) -> tuple[int, int]:
    """The stride of layers run in order: how far their output moves over their input per position."""
    sh = sw = 1
    for j, layer in enumerate(layers):
        out = output_shape(layer, shape)
        h, w = _stride(layer, shape, out, f"{where}, layer {j} ({layer['type']})", prefix + (j,))
        sh, sw, shape = sh * h, sw * w, out
    return sh, sw


def _pixels(n: int) -> str:
    return f"{n} pixel" if n == 1 else f"{n} pixels"


def _stride(layer: dict, shape: Shape, out: Shape, where: str, path: Path) -> tuple[int, int]:
    """How far one layer's output moves per position; NotRecastable for a block whose paths disagree."""
    kind = layer["type"]
    if kind in ("conv", "pool", "nin"):
        return layer["stride"], layer["stride"]
    if kind == "residual":
        body = _moves(layer["layers"], shape, where, path)
        stride = Residual.shortcut_stride(layer, shape, out)
        shortcut = (1, 1) if stride is None else (stride, stride)
        if body != shortcut:
            raise NotRecastable(
                f"{where}: its body moves {_pixels(body[0])} per output, its shortcut {_pixels(shortcut[0])}: on "
                f"one {shape[1]}x{shape[2]} input both give {out[1]}x{out[2]} maps, but on a larger photo they differ "
                "in size and no longer line up, so they cannot be added and the network cannot slide (the "
                "shortcut's stride was chosen to match the body's output size, not its stride)", path)
        return body
    if kind == "inception":
        moves = [_moves(branch, shape, f"{where}, branch {b}", path + (b,))
                 for b, branch in enumerate(layer["branches"])]
        for b, move in enumerate(moves):
            if move != moves[0]:
                raise NotRecastable(
                    f"{where}: branch 0 moves {_pixels(moves[0][0])} per output, branch {b} moves "
                    f"{_pixels(move[0])}: on one {shape[1]}x{shape[2]} input both give {out[1]}x{out[2]} maps, but "
                    "on a larger photo they differ in size and no longer line up, so they cannot be stacked and "
                    "the network cannot slide", path)
        return moves[0]
    return 1, 1


def _frame_side(near: int, far: int, size: int, out: int, kernel: int, stride: int, pad: int) -> tuple[int, int]:
    """What a window op's output recomputes at its two edges along one axis, given its input's.

    Output j reads input rows j*stride - pad .. j*stride - pad + kernel - 1: it differs from the one
    pass when that reaches the padding or an input row that differs."""
    first = min(out, -(-(near + pad) // stride))  # j < (near + pad) / stride
    clean = (size - far - kernel + pad) // stride + 1  # the first j that reads past the far edge's clean rows
    return first, min(out, max(0, out - clean))


# -- the recast network -------------------------------------------------------------------------------
class Sliding(nn.Module):
    """The recast network. It shares the network's modules (and so its weights); eval mode only."""

    def __init__(self, network: Network) -> None:
        super().__init__()
        self.spec, self.num_classes = network.spec, network.num_classes
        self.window: Shape = network.input_shape  # (C, H, W)
        steps: list[Step] = []
        self.rows: list[Row] = []
        shape, held = self.window, None  # the spec's shape; a flattened map whose flatten was left out
        for i, (layer, module) in enumerate(zip(network.spec, network.layers)):
            out = output_shape(layer, shape)
            current = held or (shape if len(shape) == 3 else (shape[0], 1, 1))  # the map the recast sees
            added, recast, held = self._recast(i, layer, module, shape, out, current, held)
            steps += added
            self.rows.append(Row((i,), TYPES[layer["type"]].name(layer), recast))
            shape = out
        self.steps = steps
        self.stride = (math.prod(s.stride[0] for s in steps), math.prod(s.stride[1] for s in steps))
        self.layers = nn.ModuleList(s.module for s in steps)  # registered, so .to() and .eval() reach them
        self._set_frames()
        self.eval()

    # building ----------------------------------------------------------------------------------------
    def _recast(self, i: int, layer: dict, module: nn.Module, shape: Shape, out: Shape, current: Shape,
                held: Shape | None) -> tuple[list[Step], str, Shape | None]:
        """The steps one spec layer becomes, what it became in words, and the flattened map still held."""
        kind, path = layer["type"], (i,)
        c, h, w = current
        if kind == "input":
            return [], f"the photo: any size of at least {h}x{w}, {c} channel{'s' if c > 1 else ''}", None
        if kind in ("conv", "whiten"):
            size, stride, pad = layer["size"], layer.get("stride", 1), layer.get("pad", 0)
            return [self._conv(path, module, out, size, stride, pad)], "the same: it slides over the whole photo", None
        if kind == "pool":
            return [self._pool(path, module, out, layer["mode"], layer["size"], layer["stride"], layer["pad"])], \
                "the same: it slides over the whole photo", None
        if kind == "nin":
            steps, sub = [], shape
            for j, (part, sub_module) in enumerate(zip(NiN.layers(layer), module)):
                sub_out = output_shape(part, sub)
                if part["type"] == "conv":
                    steps.append(self._conv((i, j), sub_module, sub_out, part["size"], part["stride"], part["pad"]))
                else:
                    steps.append(Step((i, j), "point", sub_module, sub_out))
                sub = sub_out
            return steps, "the same: its three convs slide over the whole photo", None
        if kind in ("residual", "inception"):
            stride = _stride(layer, shape, out, f"layer {i} ({kind})", path)
            return [Step(path, "block", _sliding(module), out, stride=stride, pads=_pads([layer]))], \
                "the same: its paths slide over the whole photo together", None
        if kind in POINTWISE:
            return [Step(path, "point", module, current)], "the same, value by value", held
        if kind == "batchnorm":
            if len(shape) == 3:
                return [Step(path, "point", module, current)], "the same, channel by channel", None
            return [Step(path, "point", _batchnorm2d(module), current)], \
                f"batchnorm over the {c} channels, at every position", None
        if kind == "flatten":
            if (h, w) == (1, 1):
                return [], "left out: the map is 1x1 already", None
            if self._fc_follows(i):
                return [], f"left out: the fc layer after it takes the {fmt_shape(current)} map as it is", current
            step = Step(path, "window", Patches((h, w)), (c * h * w, 1, 1), kernel=(h, w),
                        unpadded=Patches((h, w)))
            return [step], (f"patches of {h}x{w}: each position's {c}x{h}x{w} values become {c * h * w} channels "
                            "(an fc layer with identity weights)"), None
        if kind == "fc":
            units = layer["units"]
            conv = nn.Conv2d(c, units, (h, w), bias=layer["bias"])
            conv.weight = nn.Parameter(module.weight.detach().reshape(units, c, h, w), requires_grad=False)
            if layer["bias"]:
                conv.bias = nn.Parameter(module.bias.detach(), requires_grad=False)
            step = Step(path, "window", conv, (units, 1, 1), kernel=(h, w), macs_per_value=c * h * w,
                        unpadded=lambda x, m=conv: F.conv2d(x, m.weight, m.bias))
            what = f"conv {h}x{w}, {units} filters" + (f": the fc's weights as {units}x{c}x{h}x{w} filters"
                                                       if (h, w) != (1, 1) else f" on {c} channels")
            return [step], what, None
        if kind == "globalpool":
            mode = layer["mode"]
            pool = nn.AvgPool2d((h, w), 1) if mode == "avg" else nn.MaxPool2d((h, w), 1)
            pooling = F.avg_pool2d if mode == "avg" else F.max_pool2d
            step = Step(path, "window", pool, (c, 1, 1), kernel=(h, w),
                        unpadded=lambda x, k=(h, w), f=pooling: f(x, k, 1))
            return [step], f"{mode} pool {h}x{w}, stride 1: as large as a window's map", None
        if kind == "softmax":
            return [], "softmax over the classes, at every position", None
        raise NotRecastable(f"layer {i} ({kind}): no recast is known for this type", path)  # pragma: no cover

    def _fc_follows(self, i: int) -> bool:
        """Whether the next layer after `i` that is not value by value is an fc layer."""
        for layer in self.spec[i + 1:]:
            if layer["type"] not in POINTWISE:
                return layer["type"] == "fc"
        return False

    @staticmethod
    def _conv(path: Path, module: nn.Conv2d, out: Shape, size: int, stride: int, pad: int) -> Step:
        return Step(path, "window", module, out, (size, size), (stride, stride), (pad, pad),
                    macs_per_value=module.in_channels * size * size,
                    unpadded=lambda x, m=module: F.conv2d(x, m.weight, m.bias, m.stride))

    @staticmethod
    def _pool(path: Path, module: nn.Module, out: Shape, mode: str, size: int, stride: int, pad: int) -> Step:
        pooling = F.max_pool2d if mode == "max" else F.avg_pool2d  # avg: padded zeros count, as AvgPool2d's
        return Step(path, "window", module, out, (size, size), (stride, stride), (pad, pad),
                    fill=-math.inf if mode == "max" else 0.0,
                    unpadded=lambda x, f=pooling: f(x, size, stride))

    def _set_frames(self) -> None:
        """Each step's frame on one window, from its input's (the photo's crop has none)."""
        frame, size = NO_FRAME, self.window[1:]
        for step in self.steps:
            h, w = step.out[1:]
            if step.kind == "window":
                top, bottom = _frame_side(frame[0], frame[1], size[0], h, step.kernel[0], step.stride[0], step.pad[0])
                left, right = _frame_side(frame[2], frame[3], size[1], w, step.kernel[1], step.stride[1], step.pad[1])
                frame = (top, bottom, left, right)
            elif step.kind == "block" and (frame != NO_FRAME or step.pads):
                frame = (h, 0, w, 0)
            step.frame, size = frame, (h, w)
            step.full = frame[0] + frame[1] >= h or frame[2] + frame[3] >= w

    # geometry ----------------------------------------------------------------------------------------
    def grid(self, height: int, width: int) -> tuple[int, int]:
        """(rows, cols) of windows that fit in a photo of height x width."""
        _, h, w = self.window
        if height < h or width < w:
            raise ValueError(f"a {height}x{width} photo is smaller than the network's {h}x{w} input")
        return (height - h) // self.stride[0] + 1, (width - w) // self.stride[1] + 1

    def _spacing(self, k: int) -> tuple[int, int]:
        """How far apart neighbouring windows' maps lie in the photo-wide output of step k (-1: the photo)."""
        done = self.steps[:k + 1]
        return (self.stride[0] // math.prod(s.stride[0] for s in done),
                self.stride[1] // math.prod(s.stride[1] for s in done))

    # running -----------------------------------------------------------------------------------------
    @contextmanager
    def _counting(self, tally: Tally | None, k: int, where: str) -> Iterator[None]:
        """Count the MACs of every conv that runs inside into tally.<where>[k]."""
        if tally is None:
            yield
            return
        bucket = getattr(tally, where)

        def hook(m: nn.Conv2d, args: tuple, out: torch.Tensor) -> None:
            values = tally.images(out) * math.prod(out.shape[1:])
            bucket[k] += values * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

        handles = [m.register_forward_hook(hook) for m in self.steps[k].module.modules() if isinstance(m, nn.Conv2d)]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    @torch.no_grad()
    def forward(self, photo: torch.Tensor, tally: Tally | None = None) -> torch.Tensor:
        """(1, C, H, W) photo -> (1, classes, rows, cols) logits in one pass: each window sees the photo
        around it where its layers pad (exact for a network without padding)."""
        rows, cols = self.grid(*photo.shape[2:])
        x = photo
        for k, step in enumerate(self.steps):
            with self._counting(tally, k, "shared"):
                x = step.module(x)
        return x[:, :, :rows, :cols]

    @torch.no_grad()
    def exact(self, photo: torch.Tensor, tally: Tally | None = None, chunk: int = CHUNK) -> torch.Tensor:
        """(1, C, H, W) photo -> (1, classes, rows, cols) logits: window (i, j)'s are the network's on the
        crop at (i * stride, j * stride), padding zeros and all. Each layer runs once over the photo as
        long as windows read part of it; each window recomputes its frame."""
        rows, cols = self.grid(*photo.shape[2:])
        if tally is not None:
            tally.stands_for = 1
        shared, x = [], photo
        for k, step in enumerate(self.steps):
            if step.full:
                break  # no window reads this map, nor any after it (a frame never shrinks back)
            with self._counting(tally, k, "shared"):
                x = step.module(x)
            shared.append(x)
        first = next((k for k, step in enumerate(self.steps) if step.frame != NO_FRAME), None)
        if first is None:
            return x[:, :, :rows, :cols]  # no padding anywhere: the one pass is exact
        source = photo if first == 0 else shared[first - 1]
        size = self.window[1:] if first == 0 else self.steps[first - 1].out[1:]
        logits = []
        for start in range(0, rows * cols, chunk):
            ids = torch.arange(start, min(rows * cols, start + chunk), device=photo.device)
            r, c = ids // cols, ids % cols
            if tally is not None:
                tally.stands_for = len(ids)
            local = _windows(source, r, c, self._spacing(first - 1), size)  # (B, C, h, w): exact so far
            for k in range(first, len(self.steps)):
                step = self.steps[k]
                if step.full or step.kind == "point":
                    with self._counting(tally, k, "windows"):
                        local = step.module(local)
                else:
                    local = self._reframe(k, shared[k], local, r, c, tally)
            logits.append(local.flatten(1))  # (B, classes)
        scores = torch.cat(logits)  # (rows * cols, classes)
        if not photo.shape[0]:
            return scores.new_empty((0, scores.shape[1], rows, cols))  # a run that only counted
        return scores.T.reshape(1, -1, rows, cols)

    def _reframe(self, k: int, shared: torch.Tensor, local: torch.Tensor, r: torch.Tensor, c: torch.Tensor,
                 tally: Tally | None) -> torch.Tensor:
        """Step k's output for windows r, c: the photo-wide map inside, the frame from their own input."""
        step = self.steps[k]
        h, w = step.out[1:]
        out = _windows(shared, r, c, self._spacing(k), (h, w))
        (kh, kw), (sh, sw), (ph, pw) = step.kernel, step.stride, step.pad
        padded = F.pad(local, (pw, pw, ph, ph), value=step.fill) if ph or pw else local
        top, bottom, left, right = step.frame
        for r0, r1, c0, c1 in ((0, top, 0, w), (h - bottom, h, 0, w), (top, h - bottom, 0, left),
                               (top, h - bottom, w - right, w)):
            if r1 <= r0 or c1 <= c0:
                continue
            piece = step.unpadded(padded[:, :, r0 * sh:(r1 - 1) * sh + kh, c0 * sw:(c1 - 1) * sw + kw])
            out[:, :, r0:r1, c0:c1] = piece
            if tally is not None:
                tally.windows[k] += tally.images(piece) * math.prod(piece.shape[1:]) * step.macs_per_value
        return out

    # costs -------------------------------------------------------------------------------------------
    def costs(self, height: int, width: int) -> Costs:
        """MACs of sliding over a height x width photo, each way: its run counted on an empty batch."""
        like = next(self.parameters(), torch.empty(0))
        empty = like.new_empty((0, self.window[0], height, width))
        rows, cols = self.grid(height, width)
        one_window, one_pass, exact = (Tally(len(self.steps)) for _ in range(3))
        self(like.new_empty((0, *self.window)), one_window)
        self(empty, one_pass)
        self.exact(empty, exact, chunk=rows * cols)
        return Costs(windows=rows * cols, window=one_window.shared, one_pass=one_pass.shared, shared=exact.shared,
                     frames=exact.windows)


def _windows(source: torch.Tensor, r: torch.Tensor, c: torch.Tensor, spacing: tuple[int, int],
             size: tuple[int, int]) -> torch.Tensor:
    """(B, C, h, w): the h x w maps of windows (r, c) in a photo-wide (1, C, H, W) map, a copy (an
    empty batch for an empty map: a run that only counts)."""
    if not source.shape[0]:
        return source.new_empty((0, source.shape[1], *size))
    views = source[0].unfold(1, size[0], spacing[0]).unfold(2, size[1], spacing[1])  # (C, rows, cols, h, w)
    return views[:, r, c].transpose(0, 1)


def recast(network: Network) -> Sliding:
    """The network as a sliding one (raises NotRecastable, naming the layer, when it cannot slide)."""
    return Sliding(network)


def from_state(spec: list[dict], state: dict[str, torch.Tensor], num_classes: int = 10) -> Sliding:
    """The recast network of a spec and a state dict (a Network's, e.g. the live Weights')."""
    network = build_model(spec, num_classes)
    network.load_state_dict(state)
    return recast(network.eval().requires_grad_(False))
