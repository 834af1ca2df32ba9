"""The RFC 9457 problem document itself: its media type and its body, with no web
framework in sight (``problems`` maps exceptions to it at a FastAPI edge; a raw ASGI
edge and pure code that prepares a refusal in advance use it directly)."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://stampede.dev/problems/"


def problem_document(
    status: int, code: str, detail: str | None = None, *, title: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``{"type", "title", "status", "detail", "code"}`` (+ ``extra`` members)."""
    return {
        "type": TYPE_BASE + code.lower().replace("_", "-"),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **(extra or {}),
    }
