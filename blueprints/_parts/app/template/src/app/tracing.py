"""OpenTelemetry traces, sent over OTLP/HTTP (to Jaeger) when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Without that variable nothing is recorded or sent (the API's no-op tracer), so the
same code runs with and without `observability: [jaeger]`. Every HTTP request gets a
server span (probes and /metrics excepted). Context crosses HTTP as a W3C
`traceparent` header and crosses the bus inside the envelope (`traceparent`), so a
saga is one trace across the orchestrator and the services.

An incoming `traceparent` is untrusted: it only links spans. It never decides whether
a request is traced (the sampler records everything, whatever its sampled flag says),
and nothing else reads it.
"""

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE_VARIABLE = "OTEL_SERVICE_NAME"
EXCLUDED_URLS = "/metrics,/healthz,/readyz"
"""Scrapes and probes: many, and never part of a user's request."""
TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
"""The W3C header's shape; anything else from outside is dropped."""

# W3C trace context only (no baggage: nothing from a client's headers reaches the code).
PROPAGATOR = TraceContextTextMapPropagator()
propagate.set_global_textmap(PROPAGATOR)

_tracer: Tracer = trace.NoOpTracer()


def configure(
    app: FastAPI,
    service: str,
    instance: str,
    environ: Mapping[str, str] | None = None,
    processor: SpanProcessor | None = None,
) -> TracerProvider | None:
    """Trace `app` as `service` when an OTLP endpoint is set (or `processor` is given: tests).

    Returns the provider (None when tracing is off); its spans go to `processor`, or in
    batches to `<endpoint>/v1/traces`.
    """
    global _tracer
    env = os.environ if environ is None else environ
    endpoint = env.get(ENDPOINT_VARIABLE, "").strip()
    if processor is None and not endpoint:
        return None
    if processor is None:
        # Imported here: a process without an endpoint never loads the exporter.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces"))
    name = env.get(SERVICE_VARIABLE, "").strip() or service
    provider = TracerProvider(
        resource=Resource.create({"service.name": name, "service.instance.id": instance}),
        sampler=ALWAYS_ON,
    )
    provider.add_span_processor(processor)
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"]
    )
    _tracer = provider.get_tracer("app")
    app.state.tracer_provider = provider
    return provider


def current_traceparent() -> str | None:
    """The `traceparent` of the current span (for an envelope), or None outside any trace."""
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def valid_traceparent(value: object) -> str | None:
    """`value` if it has the W3C shape (an envelope from the bus is untrusted), else None."""
    return value if isinstance(value, str) and TRACEPARENT.fullmatch(value) else None


@contextmanager
def consuming(topic: str, traceparent: str | None) -> Iterator[None]:
    """A consumer span for one bus message, continuing the trace that published it."""
    carrier = {"traceparent": traceparent} if valid_traceparent(traceparent) else {}
    parent = PROPAGATOR.extract(carrier)
    with _tracer.start_as_current_span(
        f"{topic} process", context=parent, kind=SpanKind.CONSUMER,
        attributes={"messaging.destination.name": topic, "messaging.operation.type": "process"},
    ):
        yield
