"""One call a service makes at start-up: JSON logs and, when configured, tracing."""

from __future__ import annotations

from .logs import configure_logging
from .settings import ServiceSettings
from .tracing import setup_tracing


def configure_observability(service: str, settings: ServiceSettings) -> None:
    """JSON log lines naming ``service`` and the process's instance id (``logs``); tracing
    exported over OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (``tracing``)."""
    configure_logging(service, settings.log_level, instance=settings.instance_id,
                      access_log=settings.access_log)
    setup_tracing(service, settings.instance_id,
                  endpoint=settings.otel_exporter_otlp_endpoint,
                  sample_ratio=settings.otel_traces_sampler_arg)
