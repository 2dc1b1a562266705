"""Find a spec by preset name or by path to a JSON file."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from .presets import PRESETS, UnknownModel
from .spec import SpecError


def load_spec(name_or_path: str | Path) -> tuple[str, list[dict]]:
    """(name, spec) for a preset name, or for a SPEC.json holding a list of layers or {"layers": [...]}.

    The spec is returned as written; validate() or layer_table() check it.
    """
    if str(name_or_path) in PRESETS:
        preset = PRESETS[str(name_or_path)]
        return preset.name, copy.deepcopy(preset.spec)
    path = Path(name_or_path)
    if not path.is_file():
        raise UnknownModel(f"unknown model {str(name_or_path)!r}: not a preset ({', '.join(PRESETS)}) "
                           "and not a spec file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SpecError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not a UTF-8 text file") from None
    if isinstance(data, dict):
        extra = set(data) - {"layers", "name"}
        if "layers" not in data or extra:
            raise SpecError(f'{path}: expected a list of layers or {{"layers": [...]}}, got an object with keys '
                            f"{', '.join(map(json.dumps, data))}")
        return str(data.get("name", path.stem)), data["layers"]
    return path.stem, data
