import pytest

from convscope.train import TrainConfig, Trainer

TINY_SPEC = [
    {"type": "input", "channels": 3, "height": 32, "width": 32},
    {"type": "conv", "filters": 4, "size": 3, "pad": 1},
    {"type": "relu"},
    {"type": "pool", "size": 4},
    {"type": "fc", "units": 10},
    {"type": "softmax"},
]


@pytest.fixture
def tiny_spec() -> list[dict]:
    return [dict(layer) for layer in TINY_SPEC]


@pytest.fixture
def make_trainer(tiny_dataset, tiny_spec):
    """A factory of small fp32 CPU trainers on the tiny dataset; keyword args change the config."""
    def make(**changes) -> Trainer:
        settings = {"epochs": 2, "batch_size": 32, "lr": 0.05, "precision": "fp32", **changes}
        return Trainer(tiny_spec, tiny_dataset, TrainConfig(**settings), device="cpu")
    return make
