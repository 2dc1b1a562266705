"""What a layer costs: output sizes, parameters and multiply-accumulates (MACs), as pure functions,
and LayerRow, one layer's costs: a row of the layer table, sent on the wire as it is.

Convention (the one behind "the ConvNetJS CIFAR-10 net is 3.92M MACs"): only conv and fc layers
count MACs, biases excluded; pooling, activations, batchnorm and softmax count 0. Parameters are
weights + biases, plus batchnorm's gamma and beta (its running statistics are buffers, not parameters).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, computed_field


class LayerRow(BaseModel):
    """A layer's row of the layer table (table.py); the protocol's messages carry it (docs/protocol.md)."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: tuple[int, ...]  # index in the spec; nested for blocks: (4, 1), or (4, branch, 1) in inception
    name: str  # e.g. "conv 5x5, 16 filters, pad 2"
    type: str  # the spec's type; "shortcut" for a residual's 1x1 conv shortcut
    output_shape: tuple[int, ...]  # (C, H, W) or (N,), no batch dimension
    params: int  # all parameters, frozen ones included
    trainable: int  # parameters the optimizer updates (params - frozen)
    macs: int  # multiply-accumulates per image
    depth: int  # 0 = top level, 1 = inside a block, ...

    @computed_field
    @property
    def index(self) -> int:
        """The top-level layer: what probe blobs' `layer` refers to."""
        return self.path[0]


def window_output_size(size: int, kernel: int, stride: int = 1, pad: int = 0) -> int:
    """Side of a conv or pool output: floor((size + 2*pad - kernel) / stride) + 1."""
    return (size + 2 * pad - kernel) // stride + 1


def conv_params(c_in: int, c_out: int, kernel: int, bias: bool = True) -> int:
    """One kernel x kernel x c_in filter per output channel, plus one bias each."""
    return c_out * c_in * kernel * kernel + (c_out if bias else 0)


def conv_macs(c_in: int, c_out: int, kernel: int, h_out: int, w_out: int) -> int:
    """Every output value (c_out x h_out x w_out) is a dot product over c_in x kernel x kernel inputs."""
    return c_out * h_out * w_out * c_in * kernel * kernel


def fc_params(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def fc_macs(n_in: int, n_out: int) -> int:
    return n_in * n_out


def batchnorm_params(channels: int) -> int:
    """A scale (gamma) and a shift (beta) per channel."""
    return 2 * channels
