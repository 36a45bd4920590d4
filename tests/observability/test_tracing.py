"""One trace per chat turn, from the HTTP request through the workflow update and its
activities to the store's HTTP calls, read with the SDK's in-memory exporter; and a wrong or
dead OTLP endpoint that the product shrugs off, saying so once. Real API, workers, dev server
and demo store."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict

import pytest
from bench.otlp_receiver import OtlpReceiver
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from temporalio.testing import WorkflowEnvironment

from supportflow.channels.inbound import enqueue, reply_status
from supportflow.observability import process
from supportflow.observability.tracing import Tracing, tracing_from_settings
from supportflow.workflows.contract import Channel, ChannelIdentity, InboundMessage
from tests.helpers import free_port, running_workers, serve_api
from tests.observability.conftest import JAMES_ORDER, Shop


def _by_trace(spans: tuple[ReadableSpan, ...]) -> dict[int, list[ReadableSpan]]:
    traces: dict[int, list[ReadableSpan]] = defaultdict(list)
    for s in spans:
        assert s.context is not None
        traces[s.context.trace_id].append(s)
    return traces


def _request_span(spans: list[ReadableSpan]) -> ReadableSpan:
    [root] = [s for s in spans if s.name == "POST /v1/chat/messages"]
    return root


async def test_one_trace_covers_request_update_activities_and_store_calls(
    dev_env: WorkflowEnvironment, shop: Shop
) -> None:
    exporter = InMemorySpanExporter()
    process.install(shop.settings, tracing=Tracing(shop.settings, exporter, batch=False))
    async with (
        running_workers(dev_env.client, shop.settings),
        serve_api(shop.settings, dev_env.client) as http,
    ):
        first = await shop.turn(http, f"where is my order {JAMES_ORDER}")
        assert first.status_code == 200, first.text
        exporter.clear()
        # The second turn of the conversation: its own update on a running workflow.
        second = await shop.turn(http, f"and where is {JAMES_ORDER} now?")
        assert second.status_code == 200, second.text

    traces = _by_trace(exporter.get_finished_spans())
    turn = [spans for spans in traces.values() if any(s.kind == SpanKind.SERVER for s in spans)]
    roots = [s for spans in turn for s in spans if s.name == "POST /v1/chat/messages"]
    assert len(roots) == 1, [s.name for spans in traces.values() for s in spans]
    root = roots[0]
    assert root.parent is None
    assert root.context is not None
    spans = traces[root.context.trace_id]
    names = {s.name for s in spans}
    # Request -> Temporal client call -> the workflow's update handler -> its activities ->
    # the store's HTTP call inside the order lookup: one trace.
    assert "StartUpdateWithStartWorkflow:CustomerWorkflow" in names, names
    assert "HandleUpdate:receive_message" in names, names
    assert "RunActivity:understand" in names, names
    store_calls = [s for s in spans if s.attributes and s.attributes.get("url.path")]
    orders = [s for s in store_calls if str(s.attributes.get("url.path")).startswith("/orders/")]
    assert orders, names
    assert all(s.kind == SpanKind.CLIENT and s.name == "store GET" for s in orders)
    # The store call is a child of the activity that made it (the span rode contextvars in),
    # and that activity's span a child of the workflow's call to start it.
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    assert orders[0].parent is not None
    activity = by_id[orders[0].parent.span_id]
    assert activity.name.startswith("RunActivity:"), activity.name
    assert activity.parent is not None
    assert by_id[activity.parent.span_id].name == activity.name.replace("Run", "Start", 1)
    # What spans carry: the route's template, status, request id; never the query or text.
    assert root.attributes is not None
    assert root.attributes["http.route"] == "/v1/chat/messages"
    assert root.attributes["http.response.status_code"] == 200
    assert root.attributes["supportflow.request_id"] == second.headers["x-request-id"]
    for s in spans:
        for value in (s.attributes or {}).values():
            assert "where is" not in str(value) and "@" not in str(value), (s.name, value)


async def test_a_callers_traceparent_is_continued(dev_env: WorkflowEnvironment, shop: Shop) -> None:
    exporter = InMemorySpanExporter()
    process.install(shop.settings, tracing=Tracing(shop.settings, exporter, batch=False))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with serve_api(shop.settings, dev_env.client) as http:
        r = await http.get(
            "/v1/customers/c1/transcript",
            headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
        )
        assert r.status_code == 401  # no key: a span all the same
        # Probes and scrapes make none.
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/metrics")).status_code == 200
    [span] = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert span.context is not None and format(span.context.trace_id, "032x") == trace_id
    assert span.name == "GET /v1/customers/{customer_id}/transcript"


async def test_a_dead_otlp_endpoint_never_stops_a_turn_and_is_said_once(
    dev_env: WorkflowEnvironment, shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    closed = free_port()  # nothing listens here
    settings = shop.settings.model_copy(
        update={"otel_traces_endpoint": f"http://127.0.0.1:{closed}/v1/traces"}
    )
    shop.settings = settings
    obs = process.install(settings)
    assert obs.tracing is not None and obs.tracing.guarded is not None
    caplog.set_level(logging.INFO)
    async with (
        running_workers(dev_env.client, settings),
        serve_api(settings, dev_env.client) as http,
    ):
        for text in ("hello", f"where is my order {JAMES_ORDER}"):
            r = await shop.turn(http, text)
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "answered"
            # Each turn's spans go to the dead endpoint now (the export thread waits, not us).
            obs.tracing.provider.force_flush(15_000)
        assert obs.tracing.guarded.failing
    said = [r for r in caplog.records if "cannot be exported" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in caplog.records]
    assert said[0].levelno == logging.WARNING and said[0].exc_info is None
    assert f"127.0.0.1:{closed}" in said[0].getMessage()
    # No spam from the exporter's own loggers, no stack traces at all.
    noisy = [
        r
        for r in caplog.records
        if r.name.startswith("opentelemetry") and r.levelno >= logging.WARNING
    ]
    assert noisy == []
    assert not [r for r in caplog.records if r.exc_info]


def test_exports_resume_when_the_collector_comes_back_and_that_is_said(
    shop: Shop, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("supportflow.observability.tracing.RETRY_AFTER_S", 0.0)
    port = free_port()
    settings = shop.settings.model_copy(
        update={"otel_traces_endpoint": f"http://127.0.0.1:{port}/v1/traces"}
    )
    tracing = tracing_from_settings(settings)
    assert tracing is not None and tracing.guarded is not None
    try:
        with tracing.tracer.start_as_current_span("lost"):
            pass
        tracing.provider.force_flush(15_000)
        assert tracing.guarded.failing
        with OtlpReceiver(port=port) as collector:
            with tracing.tracer.start_as_current_span("kept"):
                pass
            assert tracing.provider.force_flush(15_000)
            assert collector.names["kept"] == 1 and "lost" not in collector.names
    finally:
        tracing.shutdown()
    said = [r.getMessage() for r in caplog.records if r.name == "supportflow.observability.tracing"]
    assert len(said) == 2, said
    assert "cannot be exported" in said[0] and "again" in said[1]


@pytest.mark.parametrize(
    "endpoint", ["not a url", "ftp://collector/v1/traces", "http:///v1/traces", "http://h:99999/x"]
)
def test_a_malformed_endpoint_leaves_tracing_off_and_says_why(
    shop: Shop, endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = shop.settings.model_copy(update={"otel_traces_endpoint": endpoint})
    assert tracing_from_settings(settings) is None
    [said] = [r for r in caplog.records if r.name == "supportflow.observability.tracing"]
    assert said.levelno == logging.WARNING and "SUPPORTFLOW_OTEL_TRACES_ENDPOINT" in said.message


async def test_a_signalled_turn_is_a_trace_of_its_own(
    dev_env: WorkflowEnvironment, shop: Shop
) -> None:
    """Email, SMS and a chat reply nobody waited for arrive as signals: each message's turn
    continues the trace of the call that sent it, not the conversation's first one."""
    exporter = InMemorySpanExporter()
    tracing = Tracing(shop.settings, exporter, batch=False)
    obs = process.install(shop.settings, tracing=tracing)
    client = obs.traced_client(dev_env.client)
    tenant, customer = shop.tenant.tenant_id, f"c-{uuid.uuid4().hex[:8]}"
    roots: list[int] = []
    async with running_workers(dev_env.client, shop.settings):
        for i, text in enumerate(("hello", "thank you")):
            msg = InboundMessage(
                message_id=uuid.uuid4().hex,
                channel=Channel.CHAT,
                text=text,
                sender=ChannelIdentity(kind="chat", value="v-signal"),
            )
            with tracing.tracer.start_as_current_span(f"message {i}") as span:
                roots.append(span.get_span_context().trace_id)
                await enqueue(client, shop.settings, tenant, customer, msg)
            for _ in range(200):
                status = await reply_status(client, tenant, customer, msg.message_id)
                if status.status == "answered":
                    break
                await asyncio.sleep(0.05)
            assert status.status == "answered"
    traces = _by_trace(exporter.get_finished_spans())
    second = {s.name for s in traces[roots[1]]}
    assert "SignalWithStartWorkflow:CustomerWorkflow" in second, second
    assert "HandleSignal:enqueue_message" in second, second
    assert "RunActivity:understand" in second, second
    assert "RunActivity:understand" in {s.name for s in traces[roots[0]]}
