"""The token bucket and the per-client rate limiter (with the IETF draft headers)."""

from __future__ import annotations

from stampede_gateway.domain.token_bucket import RateLimiter, TokenBucket


def test_a_full_bucket_allows_its_burst_then_refuses():
    bucket = TokenBucket.full(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0).allowed for _ in range(4)] == [True, True, True, False]


def test_refills_at_its_rate_and_never_beyond_burst():
    bucket = TokenBucket.full(rate=2.0, burst=3, now=0.0)
    for _ in range(3):
        bucket.take(0.0)
    refused = bucket.take(0.0)
    assert not refused.allowed and refused.retry_after_s == 0.5
    assert bucket.take(0.5).allowed
    assert not bucket.take(0.5).allowed
    assert bucket.take(100.0).remaining == 2  # capped at burst (3), minus this one


def test_the_clock_going_backwards_does_not_mint_tokens():
    bucket = TokenBucket.full(rate=1.0, burst=1, now=10.0)
    assert bucket.take(10.0).allowed
    assert not bucket.take(5.0).allowed


def test_limiter_keeps_one_bucket_per_client():
    limiter = RateLimiter(rate=1.0, burst=1)
    assert limiter.hit("user:a", 0.0).allowed
    assert not limiter.hit("user:a", 0.0).allowed
    assert limiter.hit("user:b", 0.0).allowed


def test_limiter_forgets_the_least_recent_client_beyond_its_bound():
    limiter = RateLimiter(rate=1.0, burst=1, max_clients=2)
    limiter.hit("a", 0.0)
    limiter.hit("b", 0.0)
    limiter.hit("c", 0.0)  # forgets a
    assert limiter.hit("a", 0.0).allowed


def test_headers_follow_the_ratelimit_draft():
    limiter = RateLimiter(rate=5.0, burst=10)
    headers = limiter.headers(limiter.hit("x", 0.0))
    assert headers["RateLimit-Policy"] == '"default";q=10;w=2'
    assert headers["RateLimit"] == '"default";r=9;t=1'
    assert "Retry-After" not in headers
    for _ in range(9):
        limiter.hit("x", 0.0)
    refused = limiter.headers(limiter.hit("x", 0.0))
    assert refused["Retry-After"] == "1"
    assert refused["RateLimit"].startswith('"default";r=0;')


def test_a_limit_is_shared_out_over_the_live_processes():
    limiter = RateLimiter(rate=10.0, burst=4)
    limiter.share(2)
    assert (limiter.rate, limiter.burst) == (5.0, 2)
    assert limiter.hit("a", 0.0).allowed and limiter.hit("a", 0.0).allowed
    assert not limiter.hit("a", 0.0).allowed  # this process's half of the burst is spent
    assert limiter.hit("a", 0.2).allowed  # refills at its half of the rate: 5/s
    limiter.share(1)  # the other process left: this one enforces the whole limit
    assert limiter.hit("a", 0.2 + 0.1).allowed and limiter.rate == 10.0
    limiter.share(0)  # never below one
    assert limiter.rate == 10.0
    odd = RateLimiter(rate=1.0, burst=5)
    odd.share(3)
    assert odd.burst == 2  # rounded up: a client is never refused its first request
