"""Every error reply is a Problem: {detail: "...", path?: [...]} with a 4xx/5xx status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from ..protocol import Problem

log = logging.getLogger("convscope.server")


class ApiError(Exception):
    def __init__(self, status: int, detail: str, path: tuple[int, ...] | list[int] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.problem = status, Problem(detail=detail, path=list(path) if path else None)
        self.headers = headers


def describe(error: dict) -> str:
    """One pydantic error as "field: message (got value)"."""
    if error["type"] == "json_invalid":  # loc is ("body", the character where parsing stopped)
        return f"body: not valid JSON ({error['ctx']['error']} at character {error['loc'][1]})"
    where = ".".join(str(part) for part in error["loc"][1:]) or "body"
    got = f" (got {error['input']!r})" if "input" in error and error["type"] != "missing" else ""
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown field"
    return f"{where}: {error['msg']}{got}"


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError) -> JSONResponse:
        return JSONResponse(e.problem.model_dump(exclude_none=True), status_code=e.status, headers=e.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, e: RequestValidationError) -> JSONResponse:
        detail = "; ".join(describe(error) for error in e.errors())
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> Response:
        # FastAPI answers 400 to a JSON body it cannot decode (bytes that are not UTF-8, nesting too
        # deep for json.loads), raised from the decoder's error; a 422 like a JSON syntax error instead
        if e.status_code == 400 and e.__cause__ is not None:
            return JSONResponse({"detail": f"body: not valid JSON ({e.__cause__})"}, status_code=422)
        return await http_exception_handler(request, e)

    @app.exception_handler(SQLAlchemyError)
    async def store_away(request: Request, e: SQLAlchemyError) -> JSONResponse:
        # a split deployment's PostgreSQL can be away for a while: the run goes on, reads wait for it
        log.error("convscope: %s %s: the run database failed: %s", request.method, request.url.path,
                  type(e).__name__)
        return JSONResponse({"detail": "the run database cannot be reached now; try again in a moment"},
                            status_code=503)

    document_problems(app)


def document_problems(app: FastAPI) -> None:
    """Make the OpenAPI schema say what invalid_request sends: FastAPI documents every route's 422
    as its own HTTPValidationError (a list of pydantic errors), but the reply is a Problem."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = build().setdefault("components", {}).setdefault("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas.setdefault("Problem", Problem.model_json_schema())
                schemas["HTTPValidationError"] = {"$ref": "#/components/schemas/Problem"}
                schemas.pop("ValidationError", None)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to amend the schema
