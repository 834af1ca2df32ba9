"""What an SRE sees of one reserve, through the real system (every service a process,
the embedded broker and PostgreSQL): tracing exported over OTLP to a local collector (this
test's), the access log on.

- the reserve's trace id is in the gateway's access line, in the inventory's, orders' and
  the notifier's lines for the messages it caused (the notifier's: its push path);
- the spans the services export form one trace: the gateway's server span → its
  ``commands send`` → the inventory's ``inventory decide`` → orders' ``orders project``
  and the notifier's ``notifier push``;
- every service's ``/metrics`` has the request series, and the order-path series.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench._otlp import OtlpReceiver

from .helpers import admin, create_drop, eventually, key, user

pytestmark = pytest.mark.integration

RESERVE = "/api/drops/{drop_id}/reserve"


class Collector:
    """An OTLP/HTTP trace receiver: keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._receiver = OtlpReceiver(self._keep)
        self.url = self._receiver.url

    def _keep(self, request: ExportTraceServiceRequest) -> None:
        with self.lock:
            for rs in request.resource_spans:
                service = next((a.value.string_value for a in rs.resource.attributes
                                if a.key == "service.name"), "")
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        self.spans.append({"service": service, "name": s.name,
                                           "trace_id": s.trace_id.hex(),
                                           "span_id": s.span_id.hex(),
                                           "parent": s.parent_span_id.hex()})

    def of_trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.spans if s["trace_id"] == trace_id]

    def stop(self) -> None:
        self._receiver.close()


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    try:
        yield c
    finally:
        c.stop()


def json_lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            with contextlib.suppress(orjson.JSONDecodeError):
                out.append(orjson.loads(line))
    return out


def processes(stack: Any, name: str) -> list[Any]:
    """A service's processes (``orders`` is one, named without a number)."""
    return stack.processes(name) or [stack.services[name]]


def lines_of(stack: Any, name: str) -> list[dict[str, Any]]:
    return [line for proc in processes(stack, name) for line in json_lines(proc.log_path)]


def test_one_reserve_is_one_trace_in_logs_spans_and_metrics(gateway_stack, collector):
    stack = gateway_stack(ACCESS_LOG="true", OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
                          OTEL_BSP_SCHEDULE_DELAY="100")
    with httpx.Client(base_url=stack.gateway_url, timeout=15) as client:
        drop = create_drop(client, admin(client), total_stock=3)
        who = user()
        r = client.post(f"/api/drops/{drop['id']}/reserve", json={"quantity": 1},
                        headers={**who, "Idempotency-Key": key(), "X-Request-Id": "obs-1"})
        assert r.status_code == 201, r.text
        assert r.headers["x-request-id"] == "obs-1"

    # the gateway's access line names the request and its trace
    (access,) = eventually(lambda: [
        line for line in lines_of(stack, "gateway")
        if line.get("request_id") == "obs-1" and line.get("route") == RESERVE])
    assert access["status"] == 201 and access["service"] == "gateway"
    trace_id = access["trace_id"]
    assert len(trace_id) == 32 and trace_id != "0" * 32

    # ... and so do the lines of every service the reserve reached
    for service in ("inventory", "orders", "notifier"):
        line = eventually(lambda s=service: next(
            (x for x in lines_of(stack, s) if x.get("trace_id") == trace_id), None))
        assert line["service"] == service and line["instance"], line

    # the spans exported form one trace, each the child of the one before
    def chain() -> dict[str, dict[str, Any]] | None:
        spans = {s["name"]: s for s in collector.of_trace(trace_id)}
        wanted = (f"POST {RESERVE}", "commands send", "inventory decide", "orders project",
                  "notifier push")
        return spans if all(name in spans for name in wanted) else None

    try:
        spans = eventually(chain)
    except AssertionError:
        raise AssertionError(f"spans of {trace_id}: {collector.of_trace(trace_id)}; "
                             f"all: {len(collector.spans)}") from None
    server = spans[f"POST {RESERVE}"]
    assert server["service"] == "gateway"
    for name, service, parent in (("commands send", "gateway", server),
                                  ("inventory decide", "inventory", spans["commands send"]),
                                  ("orders project", "orders", spans["inventory decide"]),
                                  ("notifier push", "notifier", spans["inventory decide"])):
        assert spans[name]["service"] == service, spans[name]
        assert spans[name]["parent"] == parent["span_id"], (name, spans[name], parent)

    # every service's /metrics: the request series and the order path's
    ports = {name: processes(stack, name)[0].port
             for name in ("gateway", "inventory", "orders", "notifier")}
    wanted = {
        "gateway": ['stampede_http_requests_total{method="POST",route="/api/drops/{drop_id}/'
                    'reserve",status="201"}',
                    'stampede_http_request_duration_seconds_bucket{le="0.001",method="POST",'
                    'route="/api/drops/{drop_id}/reserve",status="201"}',
                    'stampede_gateway_order_answers_total{by="inventory",operation="reserve",'
                    'status="201"}',
                    'stampede_gateway_reply_seconds_bucket{by="inventory",le="0.0025",'
                    'operation="reserve"}',
                    f'stampede_gateway_waiting_room_depth{{drop_id="{drop["id"]}"}}',
                    f'stampede_gateway_waiting_room_admit_per_s{{drop_id="{drop["id"]}"}}',
                    f'stampede_gateway_waiting_room_admitted_total{{drop_id="{drop["id"]}",'
                    'via="direct"}',
                    "stampede_gateway_reply_timeouts_total", "stampede_consumer_lag{"],
        "inventory": ['stampede_http_requests_total{method="GET",route="/readyz"',
                      "stampede_http_request_duration_seconds_bucket{",
                      "stampede_inventory_decisions_total{", "stampede_consumer_lag{"],
        "orders": ['stampede_http_requests_total{method="GET",route="/readyz"',
                   "stampede_http_request_duration_seconds_bucket{",
                   "stampede_orders_events_applied_total", "stampede_consumer_lag{"],
        "notifier": ['stampede_http_requests_total{method="GET",route="/readyz"',
                     "stampede_http_request_duration_seconds_bucket{",
                     "stampede_notifier_messages_sent_total", "stampede_consumer_lag{"],
    }
    for service, port in ports.items():
        def scraped(port: int = port, service: str = service) -> list[str] | None:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            missing = [w for w in wanted[service] if w not in text]
            return None if missing else wanted[service]

        try:
            eventually(scraped, timeout_s=10)
        except AssertionError:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            missing = [w for w in wanted[service] if w not in text]
            raise AssertionError(f"{service}: /metrics lacks {missing}") from None
