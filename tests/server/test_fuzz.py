"""Bad input: schemathesis fuzzes every operation of the server's OpenAPI schema, as the owner and as
a viewer. No reply may be a server error, and every reply must match the schema (a status it lists,
that status's body schema, its content type); a viewer's command never succeeds, whatever its body.

Each operation gets schemathesis's examples, coverage (boundary values, wrong types, unsupported
methods) and fuzzing phases; fuzzing is bounded by FUZZ for CI's two cores and derandomized, so
a failure shows again on the next run with the same curl line to reproduce it. The fuzz has a
server of its own (module_server): as the owner it resets the run, switches networks, changes
hyperparameters and deletes runs at random, which the session's server must not see.

Not checked, as the schema cannot say it: that schema-valid data is accepted (a batch size the
training config refuses, a probe index past the test set are 422 by design), and that a 405's Allow
header names every method of the path (Starlette names those of the first route that matches it).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import settings
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

from hostile import owner_routes

# CONVSCOPE_FUZZ_EXAMPLES=1000 fuzzes harder, with new random cases on each run
EXAMPLES = int(os.environ.get("CONVSCOPE_FUZZ_EXAMPLES", 0))
FUZZ = settings(max_examples=EXAMPLES or 20, derandomize=not EXAMPLES, database=None, deadline=None)
# seconds a fuzzed request may take: a slide over a big photo takes seconds on one thread, and up to
# MAX_WAITING of them queue for their turn (inference/live.py); a hung server still fails
CALL_TIMEOUT = 60
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def api_schema(module_server: Any) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{module_server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@FUZZ
def test_the_owner_gets_no_server_error(case: schemathesis.Case, module_server: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {module_server.token}"}, checks=CHECKS,
                           timeout=CALL_TIMEOUT)


@schema.parametrize()
@FUZZ
def test_a_viewer_gets_no_server_error_and_no_command_through(case: schemathesis.Case, module_server: Any) -> None:
    response = case.call_and_validate(checks=CHECKS, timeout=CALL_TIMEOUT)
    if (case.method.upper(), case.path) in owner_routes(module_server.app):
        assert response.status_code >= 400, (case.method, case.path, response.status_code)


@pytest.mark.parametrize("body", [b"{bad", b"\xe9t\xe9", b"[" * 100_000], ids=["syntax", "latin-1", "deep"])
def test_a_body_that_is_not_json_is_a_422(body: bytes, module_server: Any) -> None:
    """The fuzz finds these by chance; FastAPI's own answer to the last two would be an undocumented 400."""
    r = module_server.anonymous.post("/api/cost", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"].startswith("body: not valid JSON ("), r.text


def test_the_fuzzed_server_still_works(module_server: Any) -> None:
    """After all that, the worker is alive and still answers the owner's commands."""
    assert module_server.anonymous.get("/api/health").json()["worker"] == "alive"
    assert module_server.run()["status"] != "error", module_server.run()["message"]
    r = module_server.http.post("/api/run/reset")
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
