"""A network as the classic CNN pattern, or why it does not fit it.

The pattern most CNNs followed until 2014 (CS231n's "ConvNet architectures"):

    INPUT - [(CONV-RELU)*N - POOL?]*M - (FC-RELU)*K - FC - SOFTMAX

`pattern(spec)` reads a spec's top-level layers as that chain and names N, M and K:
ConvNetJS is `[(CONV-RELU)*1 - POOL]*3 - FC - SOFTMAX` (N = 1, M = 3, K = 0). Batchnorm, dropout,
flatten and scale ride along with the layer before them and are left out; any activation counts
where the pattern says RELU (LeNet's is sigmoid); a NiN block is (CONV-RELU)*3. Residual and
inception blocks break the single chain, and a pooling layer between a conv and its activation
breaks the CONV-RELU pair: then `fits` is False and `why` says where and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .layers import TYPES
from .spec import validate


@dataclass(frozen=True)
class Issue:
    path: tuple[int, ...]  # the layer where the pattern breaks
    message: str


@dataclass(frozen=True)
class Pattern:
    fits: bool
    text: str  # e.g. "INPUT - [(CONV-RELU)*1 - POOL]*3 - FC - SOFTMAX"; the plain chain where it breaks
    summary: str  # one sentence: N, M and K, or why it does not fit
    n: tuple[int, ...] = ()  # conv-activation pairs in each stage
    m: int = 0  # stages: (CONV-RELU)*N - POOL?
    k: int = 0  # fc-activation pairs before the classifier
    why: tuple[Issue, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)  # liberties taken in reading the network


@dataclass(frozen=True)
class Token:
    kind: str  # its place in the pattern (layers.PATTERN): conv, act, pool, globalpool, fc, softmax, block
    label: str  # as drawn: CONV, RELU, POOL, ...
    path: tuple[int, ...]
    type: str  # the spec's type


def _token(layer: dict, path: tuple[int, ...]) -> Token:
    place = TYPES[layer["type"]].pattern
    return Token(place, "CONV" if place == "conv" else layer["type"].upper(), path, layer["type"])


def _tokens(layers: list[dict], notes: list[str]) -> list[Token]:
    tokens: list[Token] = []
    inner: dict[str, list[int]] = {}  # a block read as its sublayers (nin) -> where
    left_out: dict[str, list[int]] = {}
    for i, layer in enumerate(layers):
        place = TYPES[layer["type"]].pattern
        if place == "left out":
            left_out.setdefault(layer["type"], []).append(i)
        elif place == "inner":
            parts = TYPES[layer["type"]].parts(layer)
            tokens += [_token(sub, (i, *prefix, j)) for prefix, part in parts for j, sub in enumerate(part)]
            inner.setdefault(layer["type"], []).append(i)
        elif place != "input":
            tokens.append(_token(layer, (i,)))
    for kind, where in inner.items():
        notes.append(f"{kind} ({_layers(where)}) {TYPES[kind].why}")
    for kind, where in left_out.items():
        notes.append(f"{kind} ({_layers(where)}) is left out: it rides along with the layer before it")
    return tokens


def _layers(indices: list[int]) -> str:
    return ("layer " if len(indices) == 1 else "layers ") + ", ".join(map(str, indices))


def _plain(tokens: list[Token]) -> list[str]:
    """Tokens drawn one by one, runs of the same block collapsed: RESIDUAL*3."""
    out: list[str] = []
    count = 0
    for j, token in enumerate(tokens):
        count += 1
        if j + 1 < len(tokens) and tokens[j + 1].label == token.label and token.kind == "block":
            continue
        out.append(token.label + (f"*{count}" if count > 1 else ""))
        count = 0
    return out


def _stages_text(stages: list[tuple[int, bool, str]]) -> list[str]:
    """[(CONV-RELU)*N - POOL]*M for each run of identical stages."""
    parts: list[str] = []
    j = 0
    while j < len(stages):
        run = 1
        while j + run < len(stages) and stages[j + run] == stages[j]:
            run += 1
        n, pooled, act = stages[j]
        parts.append(f"[(CONV-{act})*{n}{' - POOL' if pooled else ''}]*{run}")
        j += run
    return parts


def _name(token: Token) -> str:
    return f"layer {'.'.join(map(str, token.path))} ({token.type})"


def _break(tokens: list[Token], at: int) -> Issue:
    """Why the chain stops fitting at tokens[at]."""
    token = tokens[at]
    after = [t.kind for t in tokens[at + 1:at + 3]]
    if token.kind == "conv" and after == ["pool", "act"]:
        pool, act = tokens[at + 1], tokens[at + 2]
        return Issue(pool.path, f"{_name(pool)} sits between the conv at layer {token.path[0]} and its activation "
                                f"({act.label.lower()}): the pattern applies the nonlinearity right after each conv "
                                "(the speed runs pool first, so the activation has 4x fewer values to process)")
    if token.kind == "conv":
        return Issue(token.path, f"{_name(token)} is not followed by an activation: the pattern pairs every conv with "
                                 "a nonlinearity (two linear layers in a row are just one linear map)")
    if token.kind == "fc" and after:
        return Issue(token.path, f"{_name(token)} is followed by {tokens[at + 1].label.lower()}, not an activation: "
                                 "only the last fc layer (the classifier) comes without one")
    if token.kind == "act":
        return Issue(token.path, f"{_name(token)} follows no conv or fc layer: the pattern has an activation only "
                                 "right after one")
    if token.kind == "pool":
        return Issue(token.path, f"{_name(token)} does not follow a conv-activation pair: in the pattern a pool "
                                 "ends a stage of (CONV-RELU)*N")
    return Issue(token.path, f"{_name(token)} is out of place: the pattern goes convs and pools, then fc layers, "
                             "then softmax")


def pattern(spec: Any) -> Pattern:
    """Read a spec as INPUT - [(CONV-RELU)*N - POOL?]*M - (FC-RELU)*K - FC - SOFTMAX; raises SpecError."""
    layers = validate(spec, num_classes=None)
    notes: list[str] = []
    tokens = _tokens(layers, notes)
    blocks = [t for t in tokens if t.kind == "block"]
    if blocks:
        why = []
        for kind in TYPES.values():
            where = [t.path[0] for t in blocks if t.type == kind.type]
            if where:
                why.append(Issue((where[0],), f"{_layers(where)} ({kind.type}): {kind.why}"))
        text = " - ".join(["INPUT", *_plain(tokens)])
        kinds = " and ".join(sorted({t.type for t in blocks}))
        return Pattern(False, text, f"Does not fit: it has {kinds} blocks.", why=tuple(why), notes=tuple(notes))

    at, stages = 0, []  # stages: (N, pooled, activation)

    def peek(offset: int = 0) -> str | None:
        return tokens[at + offset].kind if at + offset < len(tokens) else None

    failed: int | None = None
    while peek() == "conv" and failed is None:
        n, act = 0, "RELU"
        while peek() == "conv":
            if peek(1) != "act":
                failed = at
                break
            n, act, at = n + 1, tokens[at + 1].label, at + 2
        if failed is not None:
            if n:
                stages.append((n, False, act))
            break
        pooled = peek() == "pool"
        at += pooled
        stages.append((n, pooled, act))
    head: list[str] = []
    k = 0
    if failed is None and peek() == "globalpool":
        notes.append("it ends in global pooling (one number per channel) instead of flattening the image into "
                     "large fc layers: NiN's idea, taken up by GoogLeNet and ResNet")
        head.append("GLOBALPOOL")
        at += 1
    while failed is None and peek() == "fc" and peek(1) == "act":
        k, fc_act, at = k + 1, tokens[at + 1].label, at + 2
    if k:
        head.append(f"(FC-{fc_act})*{k}")
    if failed is None and peek() == "fc":
        if peek(1) in (None, "softmax"):
            head.append("FC")
            at += 1
        else:
            failed = at
    if failed is None and peek() == "softmax":
        head.append("SOFTMAX")
        at += 1
    if failed is None and at < len(tokens):
        failed = at
    text = " - ".join(["INPUT", *_stages_text(stages), *head, *(_plain(tokens[failed:]) if failed is not None else [])])
    n_all = tuple(s[0] for s in stages)
    if failed is not None:
        issue = _break(tokens, failed)
        return Pattern(False, text, "Does not fit: " + issue.message.split(":")[0] + ".", n_all, len(stages), k,
                       (issue,), tuple(notes))
    ns = ", ".join(map(str, n_all)) if len(set(n_all)) > 1 else str(n_all[0] if n_all else 0)
    return Pattern(True, text, f"Fits, with N = {ns}, M = {len(stages)}, K = {k}.", n_all, len(stages), k, (),
                   tuple(notes))
