"""Every setting of `convscope serve` works as a flag, as a CONVSCOPE_* variable and as its default."""
from __future__ import annotations

from pathlib import Path

import pytest

from convscope.cli import build_parser, serve_settings
from convscope.settings import Settings

# A valid value for each setting, unlike its default; a new setting needs one here.
SAMPLES = {
    "host": "0.0.0.0", "port": 8123, "data": "/srv/cifar", "model": "lenet", "epochs": 3.5,
    "device": "cpu", "probe_hz": 7.5, "predictions_every": 1.5, "command_timeout": 4.0,
    "token": "a-token-of-mine", "max_viewers": 12, "classify_per_minute": 9.0, "classify_burst": 3,
    "commands_per_minute": 8.0, "commands_burst": 2, "runs_dir": Path("/srv/runs"), "fresh": True,
    "checkpoint_every": 5.0, "browser": False, "store": "postgresql+psycopg://convscope@db/runs",
    "broker": "redis://broker:6379/0", "forwarded_allow_ips": "10.0.0.5,192.168.0.0/16",
}


def as_flags(name: str, value: object) -> list[str]:
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return [flag if value else "--no-" + flag[2:]]
    return [f"{flag}={value}"]


def settings_from(argv: list[str]) -> Settings:
    return serve_settings(build_parser().parse_args(["serve", *argv]))


def test_every_setting_has_a_sample():
    assert set(SAMPLES) == set(Settings.model_fields)
    defaults = Settings()
    for name, value in SAMPLES.items():
        assert getattr(defaults, name) != value, f"the sample for {name} is its default"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_setting_from_its_flag(name):
    assert getattr(settings_from(as_flags(name, SAMPLES[name])), name) == SAMPLES[name]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_a_setting_from_its_environment_variable(name, monkeypatch):
    value = SAMPLES[name]
    monkeypatch.setenv(f"CONVSCOPE_{name.upper()}", str(value).lower() if isinstance(value, bool) else str(value))
    assert getattr(settings_from([]), name) == value


def test_a_flag_given_overrides_the_environment_and_one_not_given_leaves_it(monkeypatch):
    monkeypatch.setenv("CONVSCOPE_PORT", "8123")
    monkeypatch.setenv("CONVSCOPE_PROBE_HZ", "7.5")
    settings = settings_from(["--port", "9000"])
    assert (settings.port, settings.probe_hz) == (9000, 7.5)
    monkeypatch.setenv("CONVSCOPE_FRESH", "true")
    assert settings_from(["--no-fresh"]).fresh is False


def test_no_flag_and_no_variable_gives_the_defaults():
    settings = settings_from([])
    assert (settings.host, settings.port, settings.model, settings.browser) == ("127.0.0.1", 8000, None, True)
    assert settings.runs_dir.parts[-2:] == ("convscope", "runs")
    assert not settings.new_run


def test_a_model_or_epochs_given_starts_a_new_run(monkeypatch):
    assert settings_from(["--model", "lenet"]).new_run and settings_from(["--epochs", "2"]).new_run
    monkeypatch.setenv("CONVSCOPE_MODEL", "lenet")
    assert settings_from([]).new_run


def test_a_bad_value_names_its_flag_and_variable(monkeypatch, capsys):
    from convscope.cli import main

    monkeypatch.setenv("CONVSCOPE_PROBE_HZ", "99")
    assert main(["serve", "--port", "70000"]) == 2
    err = capsys.readouterr().err
    assert "--port (or CONVSCOPE_PORT): Input should be less than or equal to 65535" in err
    assert "--probe-hz (or CONVSCOPE_PROBE_HZ): Input should be less than or equal to 30" in err
    assert "Traceback" not in err
