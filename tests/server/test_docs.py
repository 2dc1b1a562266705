"""The docs keep up with the code: every message, route and setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

from convscope.app import create_app
from convscope.protocol import MESSAGES, PROTOCOL_VERSION, Hyperparams
from convscope.cli import build_parser
from convscope.settings import Settings, shown

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"


def test_every_message_is_documented():
    doc = (DOCS / "protocol.md").read_text()
    assert f"PROTOCOL_VERSION = {PROTOCOL_VERSION}" in doc
    for message in MESSAGES:
        kind = message.model_fields["type"].default
        assert re.search(rf'"type": ?"{kind}"', doc), f"docs/protocol.md has no example of {kind!r}"
    for field in Hyperparams.model_fields:
        assert field in doc, f"docs/protocol.md does not mention hyperparameter {field!r}"


def test_every_route_is_documented():
    doc = (DOCS / "protocol.md").read_text()
    for path, methods in create_app().openapi()["paths"].items():
        for method in methods:
            assert f"{method.upper()} {path}" in doc, \
                f"docs/protocol.md does not document {method.upper()} {path}"


def settings_table() -> dict[str, tuple[str, str, str]]:
    """README's settings table: setting name -> (flag, variable, default)."""
    rows = re.findall(r"^\| `(--[\w-]+)` \| `(CONVSCOPE_\w+)` \| ([^|]+) \|", README.read_text(), re.M)
    return {flag[2:].replace("-", "_"): (flag, variable, default.strip()) for flag, variable, default in rows}


def test_every_setting_is_documented_with_its_flag_variable_and_default(monkeypatch):
    monkeypatch.delenv("XDG_DATA_HOME")  # the default runs folder as a user has it
    table = settings_table()
    assert set(table) == set(Settings.model_fields), "README's settings table and Settings differ"
    for name, info in Settings.model_fields.items():
        flag, variable, default = table[name]
        assert variable == f"CONVSCOPE_{name.upper()}"
        assert default == shown(info.get_default(call_default_factory=True)), f"README's default of {flag}"


# Variables that are not serve settings: each is read where it says
OTHER_VARIABLES = {"CONVSCOPE_CACHE": "server/data/cache.py", "CONVSCOPE_FUZZ_EXAMPLES": "tests/server/test_fuzz.py",
                   "CONVSCOPE_CHROMIUM": "tests/browser/conftest.py", "CONVSCOPE_FIREFOX": "tests/browser/test_firefox.py",
                   "CONVSCOPE_SCREENSHOT": "tests/browser/test_page.py"}


def test_every_variable_the_docs_name_is_read():
    named = set()
    for doc in [README, *DOCS.glob("*.md")]:
        named |= set(re.findall(r"CONVSCOPE_[A-Z_]*[A-Z]", doc.read_text()))
    for variable in named:
        if variable in OTHER_VARIABLES:
            assert variable in (ROOT / OTHER_VARIABLES[variable]).read_text(), f"{variable} is read nowhere"
        else:
            assert variable.removeprefix("CONVSCOPE_").lower() in Settings.model_fields, \
                f"the docs name {variable}, but it is no setting"


def test_every_flag_the_readme_names_exists():
    options = {option for action in build_parser()._subparsers._group_actions  # noqa: SLF001
               for parser in action.choices.values() for a in parser._actions for option in a.option_strings}
    for flag in set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", README.read_text())):
        assert flag in options, f"README names {flag}, which no command takes"
