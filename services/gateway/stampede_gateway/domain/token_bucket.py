"""Token buckets: the per-client rate limit and the waiting room's direct admissions.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second.
The clock is passed in (monotonic seconds), so the arithmetic is testable.

Limits that must hold across gateway processes are *shared out*: with ``n`` live
processes each enforces ``1/n`` of the rate and of the burst (``RateLimiter.share``), so
together they never allow more than the limit, whichever process a request lands on,
and no request waits for a shared counter. The price: a client whose every request lands
on one process gets ``1/n`` of its limit. Connections are spread over the processes
(SO_REUSEPORT, a load balancer), so a client with several connections, or one that
reconnects, gets close to all of it.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    remaining: int
    retry_after_s: float  # until one token is back (0 when allowed)
    reset_s: float  # until the bucket is full again


@dataclass(slots=True)
class TokenBucket:
    rate: float
    burst: int
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, burst: int, now: float) -> TokenBucket:
        return cls(rate, burst, float(burst), now)

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def peek(self, now: float, cost: float = 1.0) -> bool:
        self._refill(now)
        return self.tokens >= cost

    def take(self, now: float, cost: float = 1.0) -> Verdict:
        self._refill(now)
        if self.tokens >= cost:
            self.tokens -= cost
            return Verdict(True, int(self.tokens), 0.0, self._reset(now))
        wait = (cost - self.tokens) / self.rate
        return Verdict(False, 0, wait, self._reset(now))

    def _reset(self, now: float) -> float:
        return (self.burst - self.tokens) / self.rate


class RateLimiter:
    """One bucket per client key, the least recently used forgotten beyond ``max_clients``
    (a forgotten client starts again with a full bucket, which only errs on the kind side)."""

    def __init__(self, rate: float, burst: int, *, max_clients: int = 100_000) -> None:
        self.limit_rate = rate
        self.limit_burst = burst
        self.rate = rate
        self.burst = burst
        self._max = max_clients
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def share(self, processes: int) -> None:
        """Enforce this process's share of the limit: ``processes`` are live."""
        n = max(1, processes)
        self.rate = self.limit_rate / n
        self.burst = max(1, math.ceil(self.limit_burst / n))

    def hit(self, client: str, now: float) -> Verdict:
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = TokenBucket.full(self.rate, self.burst, now)
            self._buckets[client] = bucket
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
            if bucket.rate != self.rate:  # the share changed: the bucket follows
                bucket.rate, bucket.burst = self.rate, self.burst
                bucket.tokens = min(bucket.tokens, float(self.burst))
        return bucket.take(now)

    @property
    def window_s(self) -> int:
        """The time a drained bucket takes to fill: the policy's window."""
        return max(1, math.ceil(self.burst / self.rate))

    def headers(self, verdict: Verdict) -> dict[str, str]:
        """RateLimit-Policy / RateLimit per draft-ietf-httpapi-ratelimit-headers."""
        headers = {
            "RateLimit-Policy": f'"default";q={self.burst};w={self.window_s}',
            "RateLimit": f'"default";r={verdict.remaining};t={math.ceil(verdict.reset_s)}',
        }
        if not verdict.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(verdict.retry_after_s)))
        return headers
