"""Which failures are worth waiting out, and how a consumer treats the others.

A transient failure (the database or broker unreachable) blocks the partition and
is retried with backoff forever: skipping a valid message would lose a decision.
Any other failure of a handler is retried a few times, then the batch is split and
the messages that still fail alone are dead-lettered, so one poison message never
wedges a partition nor kills the loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka.errors import KafkaError


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, OSError | asyncio.TimeoutError | KafkaError | ConnectionError):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a runtime dependency
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.errors.SerializationFailure)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 4
    first_backoff_s: float = 0.05
    max_backoff_s: float = 2.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.max_backoff_s, self.first_backoff_s * (2 ** max(0, attempt - 1))))
