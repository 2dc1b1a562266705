"""The explorers' arithmetic (static/js/teach/conv.js, run under node) against PyTorch and by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

CONV_JS = "static/js/teach/conv.js"


def random_conv_cases(count: int, seed: int = 0) -> list[dict]:
    """Shapes, paddings and strides of every kind, a window always fitting the padded input."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        c, f = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        h, w = int(rng.integers(1, 10)), int(rng.integers(1, 10))
        k, stride, pad = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(0, 4))
        if k > min(h, w) + 2 * pad:
            continue
        cases.append({"x": rng.normal(size=(c, h, w)), "w": rng.normal(size=(f, c, k, k)),
                      "b": rng.normal(size=f) if rng.random() < 0.7 else None, "stride": stride, "pad": pad})
    return cases


def test_conv2d_matches_torch_on_random_volumes(run_js):
    cases = random_conv_cases(120)
    results = run_js(CONV_JS, [("conv2d", [c["x"].tolist(), c["w"].tolist(),
                                           None if c["b"] is None else c["b"].tolist(),
                                           {"stride": c["stride"], "pad": c["pad"]}]) for c in cases])
    for case, got in zip(cases, results):
        bias = None if case["b"] is None else torch.from_numpy(case["b"])
        want = F.conv2d(torch.from_numpy(case["x"])[None], torch.from_numpy(case["w"]), bias,
                        stride=case["stride"], padding=case["pad"])[0]
        assert not isinstance(got, dict), got
        np.testing.assert_allclose(np.array(got), want.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool2d_matches_torch_on_random_volumes(run_js, mode):
    rng = np.random.default_rng(1)
    cases = []
    while len(cases) < 100:
        c, h, w = int(rng.integers(1, 4)), int(rng.integers(1, 10)), int(rng.integers(1, 10))
        size, stride = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        pad = int(rng.integers(0, size // 2 + 1))
        if size > min(h, w) + 2 * pad:
            continue
        cases.append((rng.normal(size=(c, h, w)), size, stride, pad))
    results = run_js(CONV_JS, [("pool2d", [x.tolist(), {"mode": mode, "size": size, "stride": stride, "pad": pad}])
                               for x, size, stride, pad in cases])
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d  # avg counts padded zeros (count_include_pad)
    for (x, size, stride, pad), got in zip(cases, results):
        want = pool(torch.from_numpy(x)[None], size, stride, pad)[0]
        np.testing.assert_allclose(np.array(got), want.numpy(), rtol=1e-12, atol=1e-12)


def test_conv_cell_lists_every_product_of_a_small_example_by_hand(run_js):
    # one channel, 3x3 input, pad 1, 2x2 filter, stride 2: output side (3 + 2 - 2) // 2 + 1 = 2
    x = [[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]
    w = [[[[1, -1], [2, 0]]]]
    (cell, out, size) = run_js(CONV_JS, [("convCell", [x, w, [10], {"stride": 2, "pad": 1}, 0, 1, 1]),
                                         ("conv2d", [x, w, [10], {"stride": 2, "pad": 1}]),
                                         ("outputSize", [3, 2, 2, 1])])
    # output (1, 1) covers padded rows 2-3, cols 2-3: input (1,1)=5, (1,2)=6, (2,1)=8, (2,2)=9
    assert [(t["i"], t["j"], t["value"], t["weight"], t["product"]) for t in cell["terms"]] == [
        (2, 2, 5, 1, 5), (2, 3, 6, -1, -6), (3, 2, 8, 2, 16), (3, 3, 9, 0, 0)]
    assert (cell["sum"], cell["bias"], cell["out"]) == (15, 10, 25)
    # the padded input is 5x5 with a ring of zeros; each output sees a 2x2 block of it:
    # (0,0) [0 0; 0 1] -> 0;  (0,1) [0 0; 2 3] -> 2*2 = 4;  (1,0) [0 4; 0 7] -> -4;  (1,1) -> 15; plus 10
    assert out == [[[10, 14], [6, 25]]]
    assert size == 2


def test_classic_two_filter_example_by_hand(run_js):
    # The course's demo: a 5x5x3 input padded to 7x7x3, two 3x3x3 filters, stride 2 -> 3x3x2.
    x = np.arange(75).reshape(3, 5, 5) % 3  # values 0, 1, 2
    w = np.stack([np.ones((3, 3, 3)), -np.eye(3)[None].repeat(3, 0)])
    b = [1, 0]
    (out,) = run_js(CONV_JS, [("conv2d", [x.tolist(), w.tolist(), b, {"stride": 2, "pad": 1}])])
    assert np.array(out).shape == (2, 3, 3)
    # filter 0 (all ones) at output (1, 1) sums the 3x3 window rows 1-3, cols 1-3 of every channel, plus 1
    assert out[0][1][1] == x[:, 1:4, 1:4].sum() + 1
    # filter 1 (minus the identity in every channel) at output (0, 0): padded corner, so only
    # the diagonal entries inside the input count: -(x[c,0,0] + x[c,1,1]) over channels
    assert out[1][0][0] == -(x[:, 0, 0] + x[:, 1, 1]).sum()


def test_pool_cells_by_hand(run_js):
    x = [[[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]]]  # the course's 4x4 example
    maxed, averaged, cell = run_js(CONV_JS, [
        ("pool2d", [x, {"mode": "max", "size": 2, "stride": 2}]),
        ("pool2d", [x, {"mode": "avg", "size": 2, "stride": 2}]),
        ("poolCell", [x, {"mode": "max", "size": 2, "stride": 2}, 0, 0, 1]),
    ])
    assert maxed == [[[6, 8], [3, 4]]]
    assert averaged == [[[13 / 4, 21 / 4], [8 / 4, 8 / 4]]]
    assert [v["value"] for v in cell["values"]] == [2, 4, 7, 8] and cell["out"] == 8
    assert (cell["chosen"]["i"], cell["chosen"]["j"]) == (1, 3)


def test_bad_windows_are_refused_with_a_reason(run_js):
    x = [[[1, 2], [3, 4]]]
    results = run_js(CONV_JS, [
        ("conv2d", [x, [[[[1, 1, 1]] * 3]], None, {"stride": 1, "pad": 0}]),
        ("pool2d", [x, {"size": 2, "pad": 2}]),
        ("conv2d", [x, [[[[1]], [[1]]]], None, {}]),
    ])
    assert results[0] == {"error": "kernel 3 is larger than the 2x2 input with pad 0"}
    assert results[1] == {"error": "pad 2 must be at most half the window size 2"}
    assert results[2] == {"error": "the filters have 2 channels but the input has 1"}
