"""JSON log lines, parsed: the request id inside an HTTP request (real uvicorn), the workflow
id, run id and activity inside an activity and a workflow (a real worker on the dev server),
the trace and span ids under a span; one object a line, whatever the message holds."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from supportflow.api.request_context import RequestIdMiddleware
from supportflow.logs import JsonFormatter, setup_logging
from supportflow.observability import log_context
from supportflow.observability.tracing import Tracing
from supportflow.settings import Settings
from tests.helpers import _serving, free_port

log = logging.getLogger("supportflow.test_logs")


Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def lines() -> Iterator[Lines]:
    """What the root logger has written as JSON lines so far, parsed, on each call."""
    log_context.register()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _said(lines: Lines, message: str) -> dict[str, Any]:
    [line] = [x for x in lines() if x["message"].startswith(message)]
    return line


async def test_a_request_s_lines_carry_its_request_id(lines: Lines) -> None:
    app = FastAPI()

    @app.get("/said")
    async def said() -> dict[str, str]:
        log.info("in a request")
        return {"ok": "yes"}

    app.add_middleware(RequestIdMiddleware)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    async with _serving(uvicorn.Server(config)), httpx.AsyncClient() as http:
        r = await http.get(f"http://127.0.0.1:{port}/said", headers={"X-Request-ID": "req-123456"})
    assert r.headers["x-request-id"] == "req-123456"
    log.info("after the request")
    assert _said(lines, "in a request")["request_id"] == "req-123456"
    assert "request_id" not in _said(lines, "after the request")


@activity.defn(name="say_something")
async def say_something(n: int) -> int:
    log.info("in an activity")
    activity.logger.info("through the activity logger")
    return n


@workflow.defn(sandboxed=False)
class Talkative:
    @workflow.run
    async def run(self) -> int:
        workflow.logger.info("in a workflow")
        return await workflow.execute_activity(
            say_something, 1, start_to_close_timeout=timedelta(seconds=10)
        )


def test_lines_are_json_with_the_fields(settings: Settings) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("supportflow.test_logs.alone")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    tracing = Tracing(settings, InMemorySpanExporter(), batch=False)
    try:
        logger.warning('quotes " and\nnew lines stay one line: %s', "ok")
        with tracing.tracer.start_as_current_span("work") as span:
            logger.info("under a span")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        tracing.shutdown()
    out = stream.getvalue().splitlines()
    assert len(out) == 3  # a traceback is inside its line, not lines of its own
    first, second, third = (json.loads(x) for x in out)
    assert first["message"] == 'quotes " and\nnew lines stay one line: ok'
    assert first["level"] == "WARNING" and first["logger"] == "supportflow.test_logs.alone"
    assert first["ts"].endswith("+00:00") and "trace_id" not in first
    ctx = span.get_span_context()
    assert second["trace_id"] == format(ctx.trace_id, "032x")
    assert second["span_id"] == format(ctx.span_id, "016x")
    assert "ValueError: boom" in third["exception"]


def test_setup_logging_json_writes_json_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = []
    try:
        setup_logging("INFO", "json")
        logging.getLogger("supportflow.x").info("hello %s", "there")
    finally:
        for h in root.handlers:
            root.removeHandler(h)
        root.handlers = saved
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "hello there" and line["level"] == "INFO"


async def test_activity_and_workflow_lines_carry_their_ids(
    dev_env: WorkflowEnvironment, lines: Lines
) -> None:
    queue = f"logs-{uuid.uuid4().hex[:8]}"
    wf_id = f"logs-{uuid.uuid4().hex[:8]}"
    async with Worker(
        dev_env.client, task_queue=queue, workflows=[Talkative], activities=[say_something]
    ):
        handle = await dev_env.client.start_workflow(Talkative.run, id=wf_id, task_queue=queue)
        assert await handle.result() == 1
    run_id = handle.result_run_id
    assert run_id
    for message in ("in an activity", "through the activity logger"):
        line = _said(lines, message)
        assert line["workflow_id"] == wf_id and line["run_id"] == run_id, line
        assert line["activity"] == "say_something"
    line = _said(lines, "in a workflow")
    assert line["workflow_id"] == wf_id and line["run_id"] == run_id, line
