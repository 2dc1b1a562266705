import pytest

from convscope.train import TrainConfig


def test_defaults_are_valid_and_replace_changes_one_field():
    cfg = TrainConfig()
    assert cfg.replace(lr=0.1).lr == 0.1
    assert cfg.replace(lr=0.1).batch_size == cfg.batch_size


@pytest.mark.parametrize("changes, message", [
    ({"lr": -0.1}, "lr must be > 0"),
    ({"batch_size": 0}, "batch_size must be between 1 and 8192"),
    ({"batch_size": "64"}, "batch_size must be int, got str"),
    ({"batch_size": True}, "batch_size must be int, got bool"),
    ({"momentum": 1.0}, "momentum must be in [0, 1)"),
    ({"optimizer": "rmsprop"}, "optimizer must be one of sgd, adamw, adadelta"),
    ({"schedule": "step"}, "schedule must be one of"),
    ({"warmup": 1.0}, "warmup must be a fraction"),
    ({"epochs": 0}, "epochs must be > 0"),
    ({"epochs": float("nan")}, "epochs must be a finite number, got nan"),
    ({"eval_every": float("inf")}, "eval_every must be a finite number, got inf"),
    ({"lr": float("-inf")}, "lr must be a finite number"),
    ({"precision": "fp8"}, "precision must be one of auto, fp32, bf16, fp16"),
    ({"learning_rate": 0.1}, "unknown hyperparameter(s): learning_rate"),
])
def test_bad_values_are_refused_with_a_message(changes, message):
    with pytest.raises(ValueError) as e:
        TrainConfig().replace(**changes)
    assert message in str(e.value)


def test_int_is_accepted_where_a_float_is_expected():
    assert TrainConfig(lr=1).lr == 1
