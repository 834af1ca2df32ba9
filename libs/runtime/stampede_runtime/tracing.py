"""Tracing: OpenTelemetry, on only when an OTLP endpoint is configured.

``setup_tracing`` installs a tracer provider that exports over OTLP/HTTP when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the exporter reads the usual ``OTEL_*``
variables), and instruments psycopg. Without it, nothing is installed: ``enabled`` stays
False and every helper here returns at once (one attribute read), so the hot paths pay
nothing for tracing being possible.

The W3C trace context (``traceparent``, ``tracestate``) travels in every Kafka message's
headers and in the envelopes' ``trace`` field (a reader takes the headers first, else the
envelope's). ``ConsumerLoop`` starts one consumer span per traced message when given a span
name (the inventory's decision, orders' projection, the notifier's push); the gateway's
order path starts the producer span its command carries.

Sampling: parent-based; a share of the root spans (``OTEL_TRACES_SAMPLER_ARG``, default all)
is kept, never a root client span (a database call of a background loop with no request or
message around it: noise, not a trace).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.trace import Span, SpanKind

log = logging.getLogger(__name__)

#: True once a tracer provider is installed (``setup_tracing`` with an endpoint, or a test)
enabled = False
_tracer: trace.Tracer = trace.get_tracer("stampede")
_provider: Any = None
_ratio = 1.0  # the share of new traces recorded
_UNSAMPLED: AbstractContextManager[Span] = nullcontext(trace.INVALID_SPAN)
PRESAMPLED = "stampede.sampled_at_door"  # a root span whose sampling is already decided
_NULL: AbstractContextManager[None] = nullcontext()
TRACE_HEADERS = ("traceparent", "tracestate")

Headers = tuple[tuple[str, bytes], ...]


def _root_sampler(ratio: float) -> Any:
    from opentelemetry.sdk.trace.sampling import (
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
        TraceIdRatioBased,
    )

    roots = TraceIdRatioBased(ratio)

    class NoOrphanClients(Sampler):
        """A share of the roots is kept (``ratio``), never client spans (the database
        calls of background loops)."""

        def should_sample(self, parent_context: Any, trace_id: int, name: str,
                          kind: SpanKind | None = None, attributes: Any = None,
                          links: Any = None, trace_state: Any = None) -> SamplingResult:
            if kind is SpanKind.CLIENT:
                return SamplingResult(Decision.DROP)
            if attributes and attributes.get(PRESAMPLED):  # ``server_span`` drew it already
                return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)
            return roots.should_sample(parent_context, trace_id, name, kind, attributes,
                                       links, trace_state)

        def get_description(self) -> str:
            return "NoOrphanClients"

    return ParentBased(root=NoOrphanClients())


def setup_tracing(service: str, instance_id: str = "", *, endpoint: str = "",
                  processor: SpanProcessor | None = None, instrument_db: bool = True,
                  sample_ratio: float = 1.0) -> bool:
    """Install the tracer provider when ``endpoint`` (OTEL_EXPORTER_OTLP_ENDPOINT) is set or
    a ``processor`` is given (tests: an in-memory exporter); return whether tracing is on.
    Called once per process, before the service starts. ``instrument_db``: psycopg's
    calls become client spans (a test in a shared process says False). ``sample_ratio``
    (OTEL_TRACES_SAMPLER_ARG): the share of new traces recorded; a request or message that
    comes traced is recorded as its caller decided (W3C sampled flag)."""
    global enabled, _tracer, _provider, _ratio
    if not endpoint and processor is None:
        return False
    _ratio = sample_ratio
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    resource = Resource.create({"service.name": service, "service.instance.id": instance_id})
    provider = TracerProvider(resource=resource, sampler=_root_sampler(sample_ratio))
    if processor is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        # the variable names the collector's base URL; the exporter wants the traces URL
        processor = BatchSpanProcessor(
            OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces"))
    provider.add_span_processor(processor)
    if endpoint:  # a test's provider stays its own (the global one is set only once)
        trace.set_tracer_provider(provider)
    _provider = provider
    _tracer = provider.get_tracer("stampede")
    enabled = True
    if not instrument_db:
        return True
    try:
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        instrumentor = PsycopgInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider, enable_commenter=False)
    except Exception as exc:  # tracing must never stop a service
        log.warning("psycopg instrumentation not installed: %r", exc)
    log.info("tracing on: exporting over OTLP" if endpoint else "tracing on")
    return True


def tracer() -> trace.Tracer:
    return _tracer


def provider() -> Any:
    """The installed tracer provider (None when tracing is off)."""
    return _provider


def span(name: str, kind: SpanKind = SpanKind.INTERNAL,
         attributes: Mapping[str, Any] | None = None) -> AbstractContextManager[Any]:
    """A child span around a block (current while it runs); nothing at all when tracing is
    off or the current trace is not recorded (no span: a new root would be an orphan)."""
    if not enabled or not trace.get_current_span().is_recording():
        return _NULL
    return _tracer.start_as_current_span(name, kind=kind, attributes=attributes)


def carrier() -> dict[str, str]:
    """The current trace context as W3C fields (empty when tracing is off or no span)."""
    if not enabled:
        return {}
    out: dict[str, str] = {}
    propagate.inject(out)
    return out


def headers(fields: Mapping[str, str] | None = None) -> Headers:
    """Kafka headers of ``fields`` (default: the current context); () when off."""
    if fields is None:
        if not enabled:
            return ()
        fields = carrier()
    return tuple((k, v.encode()) for k, v in fields.items() if k in TRACE_HEADERS)


def context_of(record_headers: Sequence[tuple[str, bytes]] | None,
               fallback: Mapping[str, str] | None = None) -> otel_context.Context | None:
    """The trace context a message carries: its headers, else its envelope's ``trace``;
    None when it carries none."""
    fields: dict[str, str] = {}
    for key, value in record_headers or ():
        if key in TRACE_HEADERS and value:
            fields[key] = value.decode("latin-1")
    if "traceparent" not in fields:
        if not fallback or "traceparent" not in fallback:
            return None
        fields = dict(fallback)
    return propagate.extract(fields)


def start_span(name: str, parent: otel_context.Context | None,
               kind: SpanKind = SpanKind.CONSUMER,
               attributes: Mapping[str, Any] | None = None,
               start_time: int | None = None) -> Span:
    """A span (not made current) under ``parent``; tracing must be on."""
    return _tracer.start_span(name, context=parent, kind=kind, attributes=attributes,
                              start_time=start_time)


def carrier_of(span_: Span) -> dict[str, str]:
    """The W3C fields naming ``span_`` as the parent."""
    out: dict[str, str] = {}
    propagate.inject(out, context=trace.set_span_in_context(span_))
    return out


@contextmanager
def current(span_: Span | None) -> Iterator[None]:
    """``span_`` current for the block (log lines name its trace); nothing when None."""
    if span_ is None:
        yield
        return
    token = otel_context.attach(trace.set_span_in_context(span_))
    try:
        yield
    finally:
        otel_context.detach(token)


def trace_id() -> str:
    """The current trace's id as 32 hex digits, or "" (tracing off, or no span)."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def reset_for_tests() -> None:
    """Forget the installed provider (a test that installed one)."""
    global enabled, _tracer, _provider, _ratio
    enabled = False
    _provider = None
    _ratio = 1.0
    _tracer = trace.get_tracer("stampede")


def asgi(app: Any, span_details: Any = None) -> Any:
    """``app`` inside OpenTelemetry's ASGI middleware (a server span per request, the
    caller's ``traceparent`` honoured) when tracing is on; ``app`` itself when off. The
    ops routes (/metrics, /healthz, /readyz) are not traced."""
    if not enabled:
        return app
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(
        app, excluded_urls="/metrics,/healthz,/readyz",
        default_span_details=span_details or method_only,
        tracer_provider=_provider, exclude_spans=["receive", "send"],
    )


def server_span(method: str, route: str, request_headers: Mapping[str, str]
                ) -> AbstractContextManager[Span]:
    """A lean server span for an ASGI door of our own (the gateway's front door: the
    caller's ``traceparent`` honoured, named ``METHOD /route/{template}``); tracing on."""
    if "traceparent" in request_headers:
        parent = propagate.extract(request_headers)  # the caller decided the sampling
    elif _ratio < 1.0:
        if random.random() >= _ratio:
            return _UNSAMPLED  # not recorded: decided here, ~50 times cheaper than the SDK
        return _tracer.start_as_current_span(
            f"{method} {route}", kind=SpanKind.SERVER, attributes={
                "http.request.method": method, "http.route": route, PRESAMPLED: True})
    else:
        parent = None
    return _tracer.start_as_current_span(
        f"{method} {route}", context=parent, kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "http.route": route})


def method_only(scope: Any) -> tuple[str, dict[str, Any]]:
    """A server span's first name: its method (never the raw path: ids in it); renamed
    ``METHOD /route/{template}`` once routed (``name_request_span``)."""
    return str(scope.get("method") or scope.get("type", "")), {}


def name_request_span(method: str, route: str) -> None:
    """Name the current server span after the route template once it is known (before
    the answer starts: the server span ends with it)."""
    if enabled:
        current_span = trace.get_current_span()
        if current_span.is_recording():
            current_span.update_name(f"{method} {route}")
            current_span.set_attribute("http.route", route)
