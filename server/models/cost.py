"""What a layer costs: output sizes, parameters and multiply-accumulates (MACs), as pure functions.

Convention (the one behind "the ConvNetJS CIFAR-10 net is 3.92M MACs"): only conv and fc layers
count MACs, biases excluded; pooling, activations, batchnorm and softmax count 0. Parameters are
weights + biases, plus batchnorm's gamma and beta (its running statistics are buffers, not parameters).
"""

from __future__ import annotations


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
