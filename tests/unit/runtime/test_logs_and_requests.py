"""Request ids, JSON log lines and the per-request metrics, without I/O."""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import REGISTRY
from stampede_gateway.main import create_app
from stampede_gateway.settings import GatewaySettings
from stampede_runtime import logs
from stampede_runtime.http import UNMATCHED
from stampede_runtime.web import build_app


def requests_counted(route: str, method: str, status: int) -> float:
    value = REGISTRY.get_sample_value("stampede_http_requests_total",
                                      {"route": route, "method": method, "status": str(status)})
    return value or 0.0


# -- request ids ---------------------------------------------------------------------------
@pytest.mark.parametrize("given", ["abc", "req-1.2_3:4/5+6=7", "A" * 128,
                                   str(uuid.UUID(int=7))])
def test_an_acceptable_request_id_is_kept(given):
    assert logs.request_id_of(given) == given
    assert logs.request_id_of(given.encode()) == given


@pytest.mark.parametrize("given", [None, "", "A" * 129, "has space", "new\nline", "é",
                                   "<script>", b"\xff"])
def test_an_unacceptable_request_id_is_replaced(given):
    made = logs.request_id_of(given)
    assert made != given and 1 <= len(made) <= 128
    assert logs.request_id_of(made) == made  # what is made is itself acceptable


def test_made_request_ids_do_not_repeat():
    made = {logs.new_request_id() for _ in range(10_000)}
    assert len(made) == 10_000


# -- JSON lines ----------------------------------------------------------------------------
@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter("orders", "orders-0"))
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield out
    finally:
        logger.removeHandler(handler)


def lines(out: io.StringIO) -> list[dict]:
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def test_every_line_is_json_with_the_fixed_fields(captured):
    logging.getLogger("test.json").info("hello %s", "world")
    token = logs.request_id_var.set("r-1")
    span = TracerProvider().get_tracer("t").start_span("s")
    try:
        from opentelemetry import trace

        with trace.use_span(span):
            logging.getLogger("test.json").warning("inside", extra={"fields": {"k": 1}})
    finally:
        logs.request_id_var.reset(token)
        span.end()
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("test.json").exception("failed")
    first, second, third = lines(captured)
    for line in (first, second, third):
        assert {"ts", "level", "service", "instance", "logger", "msg", "trace_id",
                "request_id"} <= set(line)
        assert line["service"] == "orders" and line["instance"] == "orders-0"
        assert line["ts"].endswith("Z")
    assert first["msg"] == "hello world" and first["level"] == "INFO"
    assert first["trace_id"] == "" and first["request_id"] == ""
    assert second["request_id"] == "r-1" and second["k"] == 1
    assert second["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert third["level"] == "ERROR" and "ValueError: boom" in third["exc"]


# -- the shared middleware -----------------------------------------------------------------
@pytest.fixture
def app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    app = build_app(title="t", lifespan=lifespan, readiness={})

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("bug")

    return app


def test_the_request_id_is_returned_and_the_route_template_counted(app):
    client = TestClient(app, raise_server_exceptions=False)
    before = requests_counted("/items/{item_id}", "GET", 200)
    r = client.get("/items/7", headers={"X-Request-Id": "caller-7"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "caller-7"
    r = client.get("/items/8", headers={"X-Request-Id": "bad id"})
    # an invalid one is replaced by one of this process's own (its prefix, a counter)
    assert re.fullmatch(rf"{logs._PREFIX}-[0-9a-f]+", r.headers["x-request-id"])
    assert requests_counted("/items/{item_id}", "GET", 200) == before + 2
    assert requests_counted("/items/7", "GET", 200) == 0  # never the raw path

    missing = requests_counted(UNMATCHED, "GET", 404)
    r = client.get("/nowhere")
    assert r.status_code == 404 and r.headers["x-request-id"]
    assert requests_counted(UNMATCHED, "GET", 404) == missing + 1

    failed = requests_counted("/broken", "GET", 500)
    r = client.get("/broken")
    assert r.status_code == 500 and r.headers["x-request-id"]
    assert requests_counted("/broken", "GET", 500) == failed + 1
    assert REGISTRY.get_sample_value(
        "stampede_http_request_duration_seconds_count",
        {"route": "/items/{item_id}", "method": "GET", "status": "200"}) >= 2


def test_the_access_log_is_off_unless_asked(app, caplog):
    client = TestClient(app)
    with caplog.at_level(logging.INFO, logger="stampede.access"):
        client.get("/items/1")
        assert not [r for r in caplog.records if r.name == "stampede.access"]
        logs.set_access_log(True)
        try:
            client.get("/items/2", headers={"X-Request-Id": "acc-2"})
        finally:
            logs.set_access_log(False)
    (line,) = [r for r in caplog.records if r.name == "stampede.access"]
    assert line.fields == {"method": "GET", "route": "/items/{item_id}", "path": "/items/2",
                           "status": 200, "duration_ms": line.fields["duration_ms"]}


def test_lines_logged_while_answering_name_the_request(app):
    seen: list[str] = []

    @app.get("/whoami")
    async def whoami() -> dict[str, str]:
        seen.append(logs.request_id_var.get())
        return {}

    TestClient(app).get("/whoami", headers={"X-Request-Id": "who-1"})
    assert seen == ["who-1"] and logs.request_id_var.get() == ""


# -- the gateway's front door (its own cheap path) ---------------------------------------------
def test_the_front_door_returns_the_request_id_and_counts_its_route():
    settings = GatewaySettings(kafka_bootstrap_servers="127.0.0.1:1",
                               database_url="postgresql://x@h/db", dev_mode=True,
                               jwt_secret="s" * 32)
    client = TestClient(create_app(settings))
    route = "/api/drops/{drop_id}/reserve"
    before = requests_counted(route, "POST", 401)
    r = client.post(f"/api/drops/{uuid.uuid4()}/reserve", headers={
        "X-Request-Id": "front-1", "Idempotency-Key": "k1"})
    assert r.status_code == 401 and r.headers["x-request-id"] == "front-1"
    r = client.post(f"/api/drops/{uuid.uuid4()}/reserve", headers={"Idempotency-Key": "k2"})
    assert r.status_code == 401 and r.headers["x-request-id"]
    assert requests_counted(route, "POST", 401) == before + 2
    # a route FastAPI answers, behind the front door, gets one too
    r = client.get("/api/me", headers={"X-Request-Id": "me-1"})
    assert r.headers["x-request-id"] == "me-1"


def test_the_labelled_histogram_scrapes_as_a_prometheus_histogram_and_counter():
    from prometheus_client import CollectorRegistry
    from stampede_runtime.metrics import LabelledHistogram

    registry = CollectorRegistry()
    h = LabelledHistogram("t_seconds", "t", ["route"], buckets=(0.1, 1.0), counter="t_answers",
                          registry=registry)
    for value in (0.05, 0.1, 0.5, 3.0):
        h.observe(("/a",), value)
    def get(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"route": "/a", **labels})

    assert get("t_seconds_bucket", le="0.1") == 2  # le: at most the bound
    assert get("t_seconds_bucket", le="1.0") == 3
    assert get("t_seconds_bucket", le="+Inf") == 4
    assert get("t_seconds_count") == 4 and get("t_seconds_sum") == 3.65
    assert get("t_answers_total") == 4


def test_tracing_samples_new_traces_and_follows_the_callers_decision():
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from stampede_runtime import tracing

    exporter = InMemorySpanExporter()
    tracing.setup_tracing("t", "t-0", processor=SimpleSpanProcessor(exporter),
                          instrument_db=False, sample_ratio=0.0)
    try:
        with tracing.server_span("POST", "/r", {}) as span:  # a new trace: not recorded
            assert not span.is_recording()
            with tracing.span("child"):
                assert tracing.carrier() == {}  # nothing to carry on
        caller = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"  # the caller sampled it
        with tracing.server_span("POST", "/r", {"traceparent": caller}), tracing.span("child"):
            assert tracing.carrier()["traceparent"].startswith("00-" + "ab" * 16)
        names = sorted(s.name for s in exporter.get_finished_spans())
        assert names == ["POST /r", "child"]
        assert all(format(s.context.trace_id, "032x") == "ab" * 16
                   for s in exporter.get_finished_spans())
    finally:
        tracing.reset_for_tests()
    assert not tracing.enabled and tracing.carrier() == {} and tracing.headers() == ()


def test_a_share_of_new_traces_is_recorded_once_drawn():
    import random

    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from stampede_runtime import tracing

    random.seed(11)
    exporter = InMemorySpanExporter()
    tracing.setup_tracing("t", "t-0", processor=SimpleSpanProcessor(exporter),
                          instrument_db=False, sample_ratio=0.1)
    try:
        for _ in range(2000):
            with tracing.server_span("GET", "/r", {}):
                pass
    finally:
        tracing.reset_for_tests()
    assert 120 <= len(exporter.get_finished_spans()) <= 280  # ~200: drawn once, not twice
