"""init_whitening(): the positive half of the whitened patches has identity covariance."""

import pytest
import torch

from convscope.models import build_model, init_whitening


def correlated_images(n: int = 600) -> torch.Tensor:
    """Images with correlated channels and neighbouring pixels, like natural ones."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, 12, 12, generator=g)
    x = torch.einsum("ij,njhw->nihw", torch.tensor([[1.0, 0.8, 0.5], [0.0, 1.0, 0.7], [0.0, 0.0, 0.6]]), x)
    return x + 0.8 * x.roll(1, dims=3) + 0.5 * x.roll(1, dims=2)


@pytest.mark.parametrize("before", [[], [{"type": "conv", "filters": 2, "size": 3, "pad": 1}]])
def test_whitened_patches_have_identity_covariance(before):
    spec = [{"type": "input", "channels": 3, "height": 12, "width": 12}, *before, {"type": "whiten"},
            {"type": "fc", "units": 10}]
    net = build_model(spec).train()
    images = correlated_images()
    init_whitening(net, images)
    i = len(spec) - 3  # index of the whiten layer among net.layers (input is layer 0)
    whiten = net.layers[i + 1]
    with torch.no_grad():
        x = net.layers[i](images) if before else images
        y = whiten(x)  # (N, 2*C*4, 11, 11)
    half = y.shape[1] // 2
    flat = y[:, :half].permute(0, 2, 3, 1).reshape(-1, half)
    covariance = flat.T @ flat / len(flat)
    assert torch.allclose(covariance, torch.eye(half), atol=0.03), covariance.diag()
    assert torch.equal(whiten.weight[half:], -whiten.weight[:half])
    assert not whiten.weight.requires_grad
    assert net.training  # the mode is restored
