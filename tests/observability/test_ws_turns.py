"""Chat turns over the WebSocket: each message a trace of its own (the workflow's update
inside it, as with HTTP) and a count in the door's turn metrics with transport
``websocket``. A real socket against the real API on loopback, real workers and dev server,
spans read with the in-memory exporter, counts from a /metrics scrape."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import websockets
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from temporalio.testing import WorkflowEnvironment

from supportflow.observability import process
from supportflow.observability.tracing import Tracing
from tests.helpers import running_workers, serve_api
from tests.observability.conftest import JAMES_ORDER, Shop
from tests.observability.test_metrics import Samples, scrape, value

WS_SPAN = "WS /v1/chat/stream message"


async def _exchange(ws: Any, frame: dict[str, object] | str) -> dict[str, Any]:
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    got: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 30))
    return got


async def test_each_websocket_message_is_a_trace_and_a_turn(
    dev_env: WorkflowEnvironment, shop: Shop
) -> None:
    # Three messages a minute per visitor: the fourth frame is refused at the door.
    settings = shop.settings.model_copy(update={"rate_limit_chat_per_visitor": "3/minute"})
    exporter = InMemorySpanExporter()
    process.install(settings, tracing=Tracing(settings, exporter, batch=False))
    url = settings.api_url.replace("http", "ws", 1) + (
        f"/v1/chat/stream?chat_key={shop.tenant.chat_key}&visitor_id={shop.visitor}"
    )
    token = shop.token()
    async with (
        running_workers(dev_env.client, settings),
        serve_api(settings, dev_env.client) as http,
    ):
        before = await scrape(http)
        async with websockets.connect(url) as ws:
            replies = [
                await _exchange(
                    ws,
                    {"message_id": uuid.uuid4().hex, "text": text, "identity_token": token},
                )
                for text in (f"where is my order {JAMES_ORDER}", f"and where is {JAMES_ORDER}?")
            ]
            bad = await _exchange(ws, {"message_id": uuid.uuid4().hex, "text": 7})
            limited = await _exchange(ws, {"message_id": uuid.uuid4().hex, "text": "hello?"})
        after = await scrape(http)

    assert [r["status"] for r in replies] == ["answered", "answered"], replies
    assert bad["status"] == 422 and limited["status"] == 429, (bad, limited)

    # -- traces: one per message read (the refused frame makes none), each a root -----------
    spans = exporter.get_finished_spans()
    roots = [s for s in spans if s.name == WS_SPAN]
    assert len(roots) == 3, sorted(s.name for s in spans)
    assert all(s.parent is None and s.kind == SpanKind.SERVER for s in roots)
    trace_ids = {_trace_id(s) for s in roots}
    assert len(trace_ids) == 3, "each message its own trace"
    statuses = sorted(int(str((s.attributes or {})["supportflow.ws.status"])) for s in roots)
    assert statuses == [200, 200, 422]
    # No span for the socket as a whole: nothing else names the route.
    assert [s for s in spans if "/v1/chat/stream" in s.name and s.name != WS_SPAN] == []
    answered = [s for s in roots if (s.attributes or {})["supportflow.ws.status"] == 200]
    for root in answered:
        turn = [s for s in spans if _trace_id(s) == _trace_id(root)]
        names = {s.name for s in turn}
        assert "RunActivity:understand" in names, names
        by_id = {s.context.span_id: s for s in turn if s.context is not None}
        # The update is parented as over HTTP: handler <- client call <- this message's span.
        [handler] = [s for s in turn if s.name == "HandleUpdate:receive_message"]
        assert handler.parent is not None
        call = by_id[handler.parent.span_id]
        assert call.name == "StartUpdateWithStartWorkflow:CustomerWorkflow", call.name
        assert call.parent is not None and call.parent.span_id == _span_id(root)
        for s in turn:
            for v in (s.attributes or {}).values():
                assert "where is" not in str(v) and "@" not in str(v), (s.name, v)
                assert shop.visitor not in str(v), (s.name, v)

    # -- counts: the same turn metrics as HTTP, transport "websocket" -------------------------
    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    door = {"channel": "chat", "transport": "websocket"}
    assert moved("supportflow_turns_total", outcome="answered", **door) == 2
    assert moved("supportflow_turns_total", outcome="refused", **door) == 1
    assert moved("supportflow_turns_total", outcome="rate_limited", **door) == 1
    assert moved("supportflow_turn_latency_seconds_count", **door) == 4
    assert moved("supportflow_rate_limit_refusals_total", limit="chat-visitor") == 1
    http_chat = {"channel": "chat", "transport": "http"}
    assert moved("supportflow_turns_total", outcome="answered", **http_chat) == 0
    assert _no_ids_in_labels(after, shop)


def _trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.trace_id)


def _span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def _no_ids_in_labels(samples: Samples, shop: Shop) -> bool:
    for name, labels in samples:
        for k, v in labels:
            assert shop.tenant.tenant_id not in v and shop.visitor not in v, (name, k, v)
    return True
