"""The one problem-document mapper (RFC 9457) for every service's HTTP edge.

Raise ``Problem`` (or a subclass) anywhere in a request; ``install_problem_handlers``
turns it, FastAPI's validation errors, unknown routes and any unexpected exception
into ``application/problem+json`` with a stable upper-case ``code``. Nothing
internal (trace, SQL, class names) ever reaches the client; the unexpected is
logged with its trace on the server.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from .problem_docs import PROBLEM_MEDIA_TYPE, TYPE_BASE, problem_document

log = logging.getLogger(__name__)
__all__ = [
    "PROBLEM_MEDIA_TYPE", "TYPE_BASE", "Problem", "ProblemDocument", "install_problem_handlers",
    "problem_response", "problem_responses",
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
    """The body of every error response (for the OpenAPI document)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    code: str
    errors: list[dict[str, Any]] | None = None


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


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the given error statuses."""
    return {
        status: {"model": ProblemDocument, "content": {PROBLEM_MEDIA_TYPE: {}},
                 "description": HTTPStatus(status).phrase}
        for status in statuses
    }
