"""The one problem-document mapper (RFC 9457) for every service's HTTP edge.

Raise ``Problem`` (or a subclass) anywhere in a request; ``install_problem_handlers``
turns it, FastAPI's validation errors, unknown routes and any unexpected exception
into ``application/problem+json`` with a stable upper-case ``code``. Nothing
internal (trace, SQL, class names) ever reaches the client; the unexpected is
logged with its trace on the server.

For the OpenAPI document, ``problem_responses`` gives a route's error responses, each
``application/problem+json`` with the ``ProblemDocument`` schema and one example per
code; ``install_problem_handlers`` also puts that schema in the app's document and
turns FastAPI's default ``422`` (its own validation shape) into the problem document
the handlers really send.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .problem_docs import PROBLEM_MEDIA_TYPE, TYPE_BASE, problem_document

log = logging.getLogger(__name__)
__all__ = [
    "PROBLEM_MEDIA_TYPE", "PROBLEM_SCHEMA_REF", "TYPE_BASE", "Problem", "ProblemDocument",
    "ProblemExample", "install_problem_handlers", "problem_response", "problem_responses",
]

_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    411: "LENGTH_REQUIRED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    431: "HEADERS_TOO_LARGE",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


class ProblemDocument(BaseModel):
    """The body of every error response (RFC 9457); members beyond these are extensions
    of a particular ``code`` (e.g. the waiting room's ``ticket``)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        problem_document(409, "OUT_OF_STOCK", "Not enough stock left."),
        problem_document(422, "VALIDATION_ERROR", "body.quantity: Input should be greater "
                         "than or equal to 1", extra={"errors": [{
                             "loc": ["body", "quantity"],
                             "msg": "Input should be greater than or equal to 1"}]}),
    ]})

    type: str = Field(description="A URI naming the kind of problem.",
                      examples=[TYPE_BASE + "out-of-stock"])
    title: str = Field(description="The HTTP status phrase.", examples=["Conflict"])
    status: int = Field(description="The HTTP status code.", examples=[409])
    detail: str | None = Field(default=None, description="What happened, for a person.",
                               examples=["Not enough stock left."])
    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$", examples=["OUT_OF_STOCK"],
                      description="The stable, upper-case error code to act on.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="VALIDATION_ERROR only: each invalid input, `loc` (where) "
        "and `msg` (why).")


PROBLEM_SCHEMA_REF = "#/components/schemas/ProblemDocument"


@dataclass(frozen=True)
class ProblemExample:
    """One documented error answer: its status and the body a client gets (e.g. built by
    the very code that answers it), shown as an example of its ``code``."""

    status: int
    body: Mapping[str, Any]
    summary: str = ""
    extra_schema: Mapping[str, Any] = field(default_factory=dict)
    """JSON Schema ``properties`` of the code's extension members (e.g. ``ticket``)."""

    @classmethod
    def of(cls, status: int, code: str, detail: str | None = None, **extra: Any
           ) -> ProblemExample:
        return cls(status, problem_document(status, code, detail, extra=extra))

    @property
    def code(self) -> str:
        return str(self.body["code"])


class Problem(Exception):
    """An error with a stable code, mapped to a problem document at the edge."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_response(problem: Problem) -> JSONResponse:
    body = problem_document(problem.status, problem.code, problem.detail, title=problem.title,
                            extra=problem.extra)
    return JSONResponse(
        body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_MEDIA_TYPE
    )


def _clean_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(part) for part in err.get("loc", ())], "msg": str(err.get("msg", ""))}
        for err in exc.errors()[:20]
    ]


async def _on_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _clean_errors(exc)
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    detail = f"{'.'.join(first['loc'])}: {first['msg']}"
    return problem_response(
        Problem(422, "VALIDATION_ERROR", detail, extra={"errors": errors})
    )


async def _on_http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "HTTP_ERROR")
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(
        Problem(exc.status_code, code, detail, headers=getattr(exc, "headers", None))
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(Problem(500, "INTERNAL_ERROR", "An unexpected error occurred."))


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
    _document_problems(app)


def problem_responses(
    *answers: int | ProblemExample,
    headers: Mapping[int, Mapping[str, Any]] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries of a route's error answers: per status, the problem
    document's schema (``application/problem+json``), one example per code, and the
    response ``headers`` given for that status. A bare status is documented with the
    generic code of that status."""
    by_status: dict[int, list[ProblemExample]] = {}
    for answer in answers:
        if isinstance(answer, int):
            answer = ProblemExample.of(answer, _STATUS_CODES.get(answer, "HTTP_ERROR"),
                                       HTTPStatus(answer).description)
        by_status.setdefault(answer.status, []).append(answer)
    entries: dict[int | str, dict[str, Any]] = {}
    for status, examples in by_status.items():
        codes = list(dict.fromkeys(e.code for e in examples))
        schema: dict[str, Any] = {"$ref": PROBLEM_SCHEMA_REF}
        extension = {k: v for e in examples for k, v in e.extra_schema.items()}
        if extension:
            schema = {"allOf": [schema, {"type": "object", "properties": extension}]}
        entry: dict[str, Any] = {
            "description": f"{HTTPStatus(status).phrase}: "
                           + ", ".join(f"`{code}`" for code in codes),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": schema, "examples": {
                e.code: {"summary": e.summary or e.body.get("detail") or e.code,
                         "value": dict(e.body)}
                for e in examples
            }}},
        }
        if headers and status in headers:
            entry["headers"] = dict(headers[status])
        entries[status] = entry
    return entries


def _document_problems(app: FastAPI) -> None:
    """The app's OpenAPI document with the problem schema in its components, and
    FastAPI's default 422 (which the handlers never send) replaced by the problem
    document they do send."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    done: list[dict[str, Any]] = []  # the document already completed (FastAPI caches it)

    def openapi() -> dict[str, Any]:
        schema = generate()
        if done and done[0] is schema:
            return schema
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ProblemDocument"] = ProblemDocument.model_json_schema(
            ref_template="#/components/schemas/{model}")
        default_422 = problem_responses(422)[422]
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if "HTTPValidationError" in json.dumps(responses.get("422", {})):
                    responses["422"] = default_422
        if "HTTPValidationError" not in json.dumps(schema.get("paths", {})):
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
        done[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
