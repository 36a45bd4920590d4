"""GET /metrics scraped over real HTTP from the real API after real turns (workers on the dev
server whose client reports the SDK's runtime metrics here), and the worker's counters read
from activities run by a real worker."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from supportflow.observability import process
from supportflow.observability.sdk_metrics import SdkMetrics
from supportflow.procedures.intents import INTENTS
from supportflow.settings import Settings
from tests.helpers import TEST_CONVERTER, free_port, running_workers, serve_api
from tests.observability.conftest import JAMES_ORDER, Shop

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


async def scrape(http: httpx.AsyncClient, **headers: str) -> Samples:
    r = await http.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    return parse(r.text)


@pytest.fixture
async def sdk_client(dev_env: WorkflowEnvironment) -> AsyncIterator[Client]:
    """A client on the dev server whose runtime reports into this process's registry."""
    sdk = SdkMetrics()
    try:
        yield await Client.connect(
            dev_env.client.service_client.config.target_host,
            namespace=dev_env.client.namespace,
            data_converter=TEST_CONVERTER,
            runtime=sdk.runtime,
        )
    finally:
        sdk.close()


async def test_metrics_move_with_a_turn_and_a_refusal(shop: Shop, sdk_client: Client) -> None:
    # One message a minute per visitor: the second is refused at the door.
    settings = shop.settings.model_copy(update={"rate_limit_chat_per_visitor": "1/minute"})
    process.install(settings)
    async with (
        running_workers(sdk_client, settings),
        serve_api(settings, sdk_client) as http,
    ):
        before = await scrape(http)
        r = await shop.turn(http, f"where is my order {JAMES_ORDER}")
        assert r.status_code == 200, r.text
        refused = await shop.turn(http, "and again?")
        assert refused.status_code == 429
        after = await scrape(http)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    chat = {"channel": "chat", "transport": "http"}
    assert moved("supportflow_turns_total", outcome="answered", **chat) == 1
    assert moved("supportflow_turns_total", outcome="rate_limited", **chat) == 1
    assert moved("supportflow_turn_latency_seconds_count", **chat) == 2
    assert moved("supportflow_rate_limit_refusals_total", limit="chat-visitor") == 1
    # Counted in the worker, by the activity interceptor.
    assert (
        total(after, "supportflow_understanding_total")
        - total(before, "supportflow_understanding_total")
        == 1
    )
    intents = {
        dict(labels)["intent"]: v - before.get((n, labels), 0.0)
        for (n, labels), v in after.items()
        if n == "supportflow_intents_total" and v != before.get((n, labels), 0.0)
    }
    assert list(intents.values()) == [1] and next(iter(intents)) in INTENTS, intents
    # The SDK's runtime metrics, on the same endpoint.
    names = {n for n, _ in after}
    for sdk_metric in (
        "temporal_request_total",
        "temporal_workflow_task_schedule_to_start_latency_bucket",
        "temporal_local_activity_execution_latency_count",
        "temporal_worker_task_slots_available",
    ):
        assert sdk_metric in names, sorted(n for n in names if n.startswith("temporal"))
    # No label carries a customer's or a tenant's id, or any text.
    for name, labels in after:
        for k, v in labels:
            assert shop.tenant.tenant_id not in v and "@" not in v and "where" not in v, (name, k)


async def test_metrics_behind_a_token(dev_env: WorkflowEnvironment, settings: Settings) -> None:
    settings = settings.model_copy(
        update={"api_port": free_port(), "metrics_token": SecretStr("s3cret-metrics")}
    )
    async with serve_api(settings, dev_env.client) as http:
        assert (await http.get("/metrics")).status_code == 401
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "s3cret" not in wrong.text
        await scrape(http, Authorization="Bearer s3cret-metrics")


async def test_metrics_off_means_no_endpoint(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    settings = settings.model_copy(update={"api_port": free_port(), "metrics_enabled": False})
    async with serve_api(settings, dev_env.client) as http:
        assert (await http.get("/metrics")).status_code == 404


async def test_a_worker_serves_its_own_metrics(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    settings = shop.settings.model_copy(update={"worker_metrics_port": 0})
    with process.worker_metrics_endpoint(settings) as url:
        assert url is not None and url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as http:
            r = await http.get(url)
        assert r.status_code == 200
        assert "supportflow_understanding_total" in r.text
        # Its port is taken now: a second worker says so and goes on without one.
        port = urlsplit(url).port
        assert port is not None
        taken = settings.model_copy(update={"worker_metrics_port": port})
        with process.worker_metrics_endpoint(taken) as second:
            assert second is None
    [said] = [r for r in caplog.records if "worker metrics not served" in r.getMessage()]
    assert said.exc_info is None


def test_the_dashboard_queries_metrics_that_exist() -> None:
    """deploy/grafana/supportflow.json names only metrics this code exports (ours by their
    registered names; the SDK's as the scrape above shows them)."""
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs
    ours = {n for family in REGISTRY.collect() for n in _sample_names(family.name, family.type)}
    for expr in exprs:
        for name in re.findall(r"\b(supportflow_[a-z_]+|temporal_[a-z_]+)\b", expr):
            if name.startswith("supportflow_"):
                assert name in ours, (name, expr)
            else:
                assert name.removesuffix("_bucket") in SDK_NAMES, (name, expr)


SDK_NAMES = {
    "temporal_request_total",
    "temporal_workflow_task_schedule_to_start_latency",
    "temporal_workflow_task_execution_latency",
    "temporal_worker_task_slots_available",
    "temporal_worker_task_slots_used",
    "temporal_local_activity_execution_latency",
    "temporal_activity_execution_latency",
    "temporal_sticky_cache_size",
    "temporal_num_pollers",
}
DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "supportflow.json"


def _sample_names(name: str, kind: str) -> set[str]:
    if kind == "counter":
        return {f"{name}_total"}
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    return {name}
