"""The classic-pattern reading of a spec: N, M and K where it fits, the layer and the reason where not."""

import pytest

from convscope.models import PRESETS, SpecError
from convscope.models.pattern import pattern

CONV = {"type": "conv", "filters": 8, "size": 3, "pad": 1}
RELU, POOL, FC10 = {"type": "relu"}, {"type": "pool"}, {"type": "fc", "units": 10}


@pytest.mark.parametrize("name, text, n, m, k", [
    ("convnetjs", "INPUT - [(CONV-RELU)*1 - POOL]*3 - FC - SOFTMAX", (1, 1, 1), 3, 0),
    ("lenet", "INPUT - [(CONV-SIGMOID)*1 - POOL]*2 - (FC-SIGMOID)*2 - FC - SOFTMAX", (1, 1), 2, 2),
    ("alexnet-mini", "INPUT - [(CONV-RELU)*1 - POOL]*2 - [(CONV-RELU)*3 - POOL]*1 - (FC-RELU)*2 - FC - SOFTMAX",
     (1, 1, 3), 3, 2),
    ("vgg-mini", "INPUT - [(CONV-RELU)*2 - POOL]*1 - [(CONV-RELU)*3 - POOL]*2 - (FC-RELU)*1 - FC - SOFTMAX",
     (2, 3, 3), 3, 1),
    ("nin-mini", "INPUT - [(CONV-RELU)*3 - POOL]*2 - [(CONV-RELU)*3]*1 - GLOBALPOOL - SOFTMAX", (3, 3, 3), 3, 0),
])
def test_presets_that_fit(name, text, n, m, k):
    p = pattern(PRESETS[name].spec)
    assert (p.fits, p.text, p.n, p.m, p.k, p.why) == (True, text, n, m, k, ())
    assert p.summary.startswith("Fits, with N = ")


def test_fitting_notes_say_what_was_left_out():
    vgg = pattern(PRESETS["vgg-mini"].spec)
    assert any(note.startswith("batchnorm (layers 2, 5,") for note in vgg.notes)
    nin = pattern(PRESETS["nin-mini"].spec)
    assert any("nin (layers 1, 4, 7) counts as (CONV-RELU)*3" in note for note in nin.notes)
    assert any("global pooling" in note for note in nin.notes)
    assert pattern(PRESETS["convnetjs"].spec).notes == ()


@pytest.mark.parametrize("name, kind, first, text", [
    ("resnet-mini", "residual", 4, "INPUT - CONV - RELU - RESIDUAL*3 - GLOBALPOOL - FC - SOFTMAX"),
    ("googlenet-mini", "inception", 5,
     "INPUT - CONV - RELU - POOL - INCEPTION*2 - POOL - INCEPTION - GLOBALPOOL - FC - SOFTMAX"),
])
def test_residual_and_inception_break_the_chain(name, kind, first, text):
    p = pattern(PRESETS[name].spec)
    assert not p.fits and p.text == text
    assert [issue.path for issue in p.why] == [(first,)]
    assert f"({kind}):" in p.why[0].message and "one chain" in p.why[0].message
    assert p.summary == f"Does not fit: it has {kind} blocks."


def test_pool_before_the_activation_is_named():
    p = pattern(PRESETS["fast"].spec)  # conv - pool - batchnorm - gelu
    assert not p.fits and p.why[0].path == (4,)
    assert p.why[0].message.startswith("layer 4 (pool) sits between the conv at layer 3 and its activation (gelu)")


@pytest.mark.parametrize("spec, path, words", [
    ([CONV, CONV, RELU, FC10], (0,), "layer 0 (conv) is not followed by an activation"),
    ([CONV, RELU, POOL, POOL, FC10], (3,), "layer 3 (pool) does not follow a conv-activation pair"),
    ([RELU, FC10], (0,), "layer 0 (relu) follows no conv or fc layer"),
    ([CONV, RELU, {"type": "fc", "units": 20}, FC10], (2,), "layer 2 (fc) is followed by fc, not an activation"),
])
def test_where_a_chain_leaves_the_pattern(spec, path, words):
    p = pattern(spec)
    assert not p.fits and p.why[0].path == path and p.why[0].message.startswith(words)


def test_small_cases():
    assert pattern([FC10]).text == "INPUT - FC"  # a linear classifier: N = M = K = 0
    assert pattern([FC10]).fits
    p = pattern([CONV, RELU, CONV, RELU, POOL, CONV, RELU, CONV, RELU, POOL, FC10, RELU, FC10, {"type": "softmax"}])
    assert (p.text, p.n, p.m, p.k) == ("INPUT - [(CONV-RELU)*2 - POOL]*2 - (FC-RELU)*1 - FC - SOFTMAX", (2, 2), 2, 1)
    assert p.summary == "Fits, with N = 2, M = 2, K = 1."
    with pytest.raises(SpecError):
        pattern([{"type": "conv"}])
