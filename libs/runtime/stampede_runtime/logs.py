"""Logging set-up shared by every service: one JSON object per line on stderr.

Every line has ``ts``, ``level``, ``service``, ``instance``, ``logger``, ``msg``,
``trace_id`` (the current span's, "" without one) and ``request_id`` (the HTTP request's
being answered, "" outside one), plus ``exc`` for an exception and the ``fields`` a caller
passes (``log.info("...", extra={"fields": {...}})``).

Request ids: ``X-Request-Id`` is taken from the request when it is 1-128 of
``A-Z a-z 0-9 . _ : - / + =`` (``request_id_of``), else made (``new_request_id``: this
process's random prefix and a counter, no system call), kept in a context variable for the
lines logged while answering, and returned on the answer.

The access log (``ACCESS_LOG=true``): one line per HTTP request (logger
``stampede.access``) and one per Kafka message handled by a loop that names its spans.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
import time
from contextvars import ContextVar
from typing import Any

import orjson

from . import tracing

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
access = logging.getLogger("stampede.access")

_VALID = re.compile(r"[A-Za-z0-9._:/+=\-]{1,128}")
_PREFIX = os.urandom(6).hex()
_counter = itertools.count(1)
_access = False


def new_request_id() -> str:
    """A request id unique to this process's life (and, with its random prefix, others')."""
    return f"{_PREFIX}-{next(_counter):x}"


def request_id_of(given: str | bytes | None) -> str:
    """The caller's ``X-Request-Id`` if it is acceptable, else a new one."""
    if given:
        if isinstance(given, bytes):
            given = given.decode("latin-1")
        if _VALID.fullmatch(given):
            return given
    return new_request_id()


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str, instance: str) -> None:
        super().__init__()
        self.service = service
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "instance": self.instance,
            "logger": record.name,
            "msg": record.getMessage(),
            "trace_id": tracing.trace_id(),
            "request_id": request_id_var.get(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                if not out.get(key):  # a field of the line's own fills what is empty
                    out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(out, default=str).decode()


def configure_logging(service: str, level: str = "INFO", *, instance: str = "",
                      access_log: bool = False) -> None:
    """JSON lines on stderr for every logger (uvicorn's included: ``serve`` gives it no
    handlers of its own); ``access_log``: the access lines too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service, instance))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.WARNING)
    set_access_log(access_log)


def set_access_log(on: bool) -> None:
    global _access
    _access = on
    access.setLevel(logging.INFO if on else logging.WARNING)


def access_on() -> bool:
    """Whether access lines are wanted (one global read)."""
    return _access
