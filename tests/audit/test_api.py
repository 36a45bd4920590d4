"""The audit trail over real HTTP (the whole API on uvicorn, app database on SQLite and
Postgres): merchant changes append entries naming the key and the request id, bad changes
append none, and GET /v1/audit (filters, cursor pages) and /v1/audit/export (JSON lines) show
only the caller's tenant; bad filters get a 422 that says what is wrong."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from supportflow.api.audit_trail import _append
from supportflow.api.request_context import RequestContext
from supportflow.audit.entry import ActorKind, NewEntry
from supportflow.audit.log import append
from supportflow.audit.verify import verify
from supportflow.db.models import TenantApiKey
from supportflow.operators.permissions import Role
from supportflow.operators.principal import Principal
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import TEST_ENCRYPTION_KEYS, free_port, serve_api


@dataclass
class Api:
    http: httpx.AsyncClient
    sessions: sessionmaker[Session]
    shop: CreatedTenant
    other: CreatedTenant

    @property
    def key(self) -> dict[str, str]:
        return {"X-Api-Key": self.shop.api_key}


@pytest.fixture
async def api(
    database_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> AsyncIterator[Api]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        api_port=free_port(),
        encryption_keys=SecretStr(TEST_ENCRYPTION_KEYS),
        demo_store_tenants="*",
    )
    shop = create_tenant(sessions, "Audit Shop")
    other = create_tenant(sessions, "Other Shop")
    async with serve_api(settings, cast(Client, object())) as http:
        yield Api(http, sessions, shop, other)


def _key_id(sessions: sessionmaker[Session], tenant_id: str) -> str:
    with sessions() as s:
        (key_id,) = s.scalars(select(TenantApiKey.id).where(TenantApiKey.tenant_id == tenant_id))
        return key_id


async def _changes(api: Api) -> None:
    h = {**api.key, "X-Request-ID": "req-policy-0001"}
    assert (await api.http.put("/v1/policy", json={"max_auto_refund": 50}, headers=h)).is_success
    r = await api.http.put("/v1/templates/handoff", json={"source": "One moment."}, headers=api.key)
    assert r.status_code == 204, r.text
    made = await api.http.post(
        "/v1/knowledge", json={"title": "Returns", "body": "30 days."}, headers=api.key
    )
    assert made.status_code == 201, made.text
    article = made.json()["id"]
    r = await api.http.put(
        f"/v1/knowledge/{article}", json={"title": "Returns", "body": "60 days."}, headers=api.key
    )
    assert r.is_success, r.text
    assert (await api.http.delete(f"/v1/knowledge/{article}", headers=api.key)).status_code == 204


async def test_merchant_changes_are_audited_with_key_and_request_id(api: Api) -> None:
    await _changes(api)
    r = await api.http.get("/v1/audit", params={"order": "asc"}, headers=api.key)
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    assert [e["action"] for e in entries] == [
        "policy.update",
        "template.update",
        "knowledge.create",
        "knowledge.update",
        "knowledge.delete",
    ]
    key_id = _key_id(api.sessions, api.shop.tenant_id)
    assert {(e["actor_kind"], e["actor_id"]) for e in entries} == {("api_key", key_id)}
    assert entries[0]["request_id"] == "req-policy-0001"
    assert entries[0]["target"] == api.shop.tenant_id and entries[1]["target"] == "handoff"
    # Every request gets an id, echoed to the caller, whether it sent one or not.
    assert all(e["request_id"] for e in entries)
    assert len({e["request_id"] for e in entries}) == len(entries)
    # Only ids: the article's words are not in the trail.
    assert "days" not in r.text
    assert verify(api.sessions, api.shop.tenant_id).ok


async def test_a_refused_change_appends_nothing(api: Api) -> None:
    bad = await api.http.put("/v1/policy", json={"max_auto_refnd": 5}, headers=api.key)
    assert bad.status_code == 422
    missing = await api.http.put("/v1/templates/nope", json={"source": "x"}, headers=api.key)
    assert missing.status_code == 404
    r = await api.http.get("/v1/audit", headers=api.key)
    assert r.json() == {"entries": [], "next_cursor": None}


async def test_the_request_id_is_echoed_and_a_strange_one_replaced(api: Api) -> None:
    r = await api.http.get("/v1/audit", headers={**api.key, "X-Request-ID": "trace-12345678"})
    assert r.headers["x-request-id"] == "trace-12345678"
    odd = await api.http.get("/v1/audit", headers={**api.key, "X-Request-ID": "a b<script>"})
    assert odd.headers["x-request-id"] != "a b<script>" and len(odd.headers["x-request-id"]) == 32


def _fill(api: Api, n: int) -> None:
    for i in range(n):
        append(
            api.sessions,
            NewEntry(
                api.shop.tenant_id,
                ActorKind.AGENT if i % 2 else ActorKind.OPERATOR,
                f"wf-{i % 3}",
                "store.cancel_order" if i % 2 else "approval.approve",
                target=f"#W{i:07d}",
                workflow_id=f"wf-{i % 3}",
            ),
        )
    append(api.sessions, NewEntry(api.other.tenant_id, ActorKind.AGENT, "wf-x", "store.hold_order"))


async def test_filters_and_cursor_pages(api: Api) -> None:
    _fill(api, 7)

    async def get(**params: object) -> dict[str, object]:
        r = await api.http.get("/v1/audit", params=params, headers=api.key)
        assert r.status_code == 200, r.text
        return cast(dict[str, object], r.json())

    def seqs(body: dict[str, object]) -> list[int]:
        return [e["seq"] for e in cast(list[dict[str, int]], body["entries"])]

    assert seqs(await get()) == [7, 6, 5, 4, 3, 2, 1]
    assert seqs(await get(action="store")) == [6, 4, 2]
    assert seqs(await get(action="store.")) == [6, 4, 2]
    assert seqs(await get(action="store.cancel_order")) == [6, 4, 2]
    assert seqs(await get(action="stor")) == []  # whole segments, not any prefix
    assert seqs(await get(actor_kind="operator")) == [7, 5, 3, 1]
    assert seqs(await get(actor_id="wf-1", order="asc")) == [2, 5]
    assert seqs(await get(workflow_id="wf-0", target="#W0000003")) == [4]
    # Pages of 3, newest first, then oldest first: every entry once.
    first = await get(limit=3)
    assert seqs(first) == [7, 6, 5] and first["next_cursor"] == 5
    second = await get(limit=3, cursor=5)
    third = await get(limit=3, cursor=second["next_cursor"])
    assert seqs(second) == [4, 3, 2] and seqs(third) == [1] and third["next_cursor"] is None
    up = await get(limit=4, order="asc")
    assert seqs(up) == [1, 2, 3, 4] and seqs(await get(limit=4, order="asc", cursor=4)) == [5, 6, 7]
    # Times: everything is after 2000 and before 2100.
    assert len(seqs(await get(since="2000-01-01T00:00:00Z", until="2100-01-01T00:00:00Z"))) == 7
    assert seqs(await get(since="2100-01-01T00:00:00Z")) == []
    fourth = cast(list[dict[str, str]], (await get(order="asc"))["entries"])[3]["at"]
    assert seqs(await get(since=fourth)) == [7, 6, 5, 4]
    assert seqs(await get(until=fourth)) == [3, 2, 1]
    # The other tenant's key sees its own trail only.
    r = await api.http.get("/v1/audit", headers={"X-Api-Key": api.other.api_key})
    assert [e["action"] for e in r.json()["entries"]] == ["store.hold_order"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"actor_kind": "robot"}, "agent"),
        ({"action": "Store Cancel"}, "dotted name"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "later than"),
        ({"since": "yesterday"}, "datetime"),
        ({"limit": 501}, "500"),
        ({"limit": 0}, "1"),
        ({"cursor": "abc"}, "integer"),
    ],
)
async def test_bad_filters_are_422_with_a_reason(
    api: Api, params: dict[str, object], says: str
) -> None:
    for path in ("/v1/audit", "/v1/audit/export"):
        if path.endswith("export") and set(params) & {"limit", "cursor"}:
            continue
        r = await api.http.get(path, params=params, headers=api.key)
        assert r.status_code == 422, r.text
        assert says in json.dumps(r.json()["detail"])


async def test_no_key_no_trail(api: Api) -> None:
    assert (await api.http.get("/v1/audit")).status_code == 401
    assert (await api.http.get("/v1/audit/export")).status_code == 401
    bad = {"X-Api-Key": "sf_live_nope"}
    assert (await api.http.get("/v1/audit", headers=bad)).status_code == 401


async def test_export_streams_json_lines_of_the_tenants_chain(api: Api) -> None:
    _fill(api, 1203)  # more than two export batches
    async with api.http.stream("GET", "/v1/audit/export", headers=api.key) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) async for line in r.aiter_lines() if line]
    assert [e["seq"] for e in lines] == list(range(1, 1204))
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(lines))
    assert {e["tenant_id"] for e in lines} == {api.shop.tenant_id}
    r = await api.http.get(
        "/v1/audit/export", params={"action": "approval", "until": "2100-01-01"}, headers=api.key
    )
    assert len(r.text.splitlines()) == 602


def test_an_operator_is_named_by_id_and_a_key_without_a_row_as_merchant(
    sessions: sessionmaker[Session],
) -> None:
    op = Principal("t_x", "operator", "op_123", Role.SUPERVISOR, None)
    made = _append(sessions, op, "template.update", "handoff", {}, RequestContext("r-00000001"))
    assert (made.actor_kind, made.actor_id, made.request_id) == ("operator", "op_123", "r-00000001")
    key = Principal.api_key("t_x")
    made = _append(sessions, key, "policy.update", "t_x", {}, RequestContext("r-2", "sf_x"))
    assert (made.actor_kind, made.actor_id) == ("api_key", "merchant")
