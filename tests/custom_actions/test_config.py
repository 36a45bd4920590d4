"""Configuring custom actions (issue 16): the policy's rules, the articles an action answers,
and the text an action's result fills. Over the real HTTP API where a merchant meets it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from supportflow.api.routers import knowledge, policy
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.knowledge.action_text import MissingField, fill
from supportflow.policy.custom_actions import CustomActionRoute, queue_belongs_to, route
from supportflow.policy.load import PolicyError, parse_policy
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import serve_router

ACTION_ARTICLE = {
    "title": "Loyalty points balance",
    "body": "You have {points} loyalty points ({tier} tier).",
    "tags": ["loyalty"],
    "action": "loyalty_balance",
}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[str, CreatedTenant, CreatedTenant]]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    a, b = create_tenant(sessions, "Shop A"), create_tenant(sessions, "Shop B")
    try:
        both = APIRouter()
        both.include_router(knowledge.router)
        both.include_router(policy.router)
        async with serve_router(both, Settings(data_dir=tmp_path), sessions) as base:
            yield base, a, b
    finally:
        engine.dispose()


def test_queues_are_the_tenants_own() -> None:
    assert queue_belongs_to("t_a", "supportflow-actions.t_a")
    assert queue_belongs_to("t_a", "supportflow-actions.t_a.loyalty")
    for foreign in (
        "supportflow-actions.t_b",
        "supportflow-actions.t_ab",  # a longer tenant id with the same start
        "supportflow-actions.t_a.",
        "supportflow-actions.t_a.x.y",
        "supportflow-actions.t_a.x y",
        "agents",
    ):
        assert not queue_belongs_to("t_a", foreign), foreign


def test_the_policy_routes_a_call_or_says_why_not() -> None:
    p = parse_policy(
        {
            "custom_actions": {
                "loyalty_balance": {"timeout": "PT3S", "deadline": "PT9S"},
                "sales_only": {"agents": ["sales"]},
                "elsewhere": {"task_queue": "supportflow-actions.t_b"},
            }
        }
    )
    assert route(p.custom_actions, "t_a", "loyalty_balance") == CustomActionRoute(
        task_queue="supportflow-actions.t_a",
        timeout=timedelta(seconds=3),
        deadline=timedelta(seconds=9),
        needs_verified_customer=True,
    )
    assert route(p.custom_actions, "t_a", "warranty") == "not_in_policy"
    assert route(p.custom_actions, "t_a", "sales_only") == "agent_not_allowed"
    assert route(p.custom_actions, "t_a", "sales_only", "sales") != "agent_not_allowed"
    # A document stored around the save-time check is still refused when called.
    assert route(p.custom_actions, "t_a", "elsewhere") == "foreign_queue"


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ({"timeout": "PT0S"}, "timeout must be between 1 second and 1 minute"),
        ({"deadline": "PT10M"}, "at most 5 minutes"),
        ({"timeout": "PT20S", "deadline": "PT10S"}, "deadline (10 s) must be at least timeout"),
        ({"agents": ["robots"]}, "agents"),
        ({"retries": 3}, "retries"),
    ],
)
def test_bad_rules_are_refused_with_what_is_wrong(rule: dict[str, Any], says: str) -> None:
    with pytest.raises(PolicyError, match=r"custom_actions\.loyalty_balance") as err:
        parse_policy({"custom_actions": {"loyalty_balance": rule}})
    assert says in str(err.value)


def test_bad_action_names_are_refused() -> None:
    for name in ("Loyalty", "loyalty-balance", "1st", "x" * 64, ""):
        with pytest.raises(PolicyError, match="lower-case words"):
            parse_policy({"custom_actions": {name: {}}})


def test_filling_says_only_plain_values() -> None:
    body = "You have {points} points ({tier}); member: {member}; rate {rate}."
    data = {"points": 4210, "tier": "gold", "member": True, "rate": 1.5, "secret": "x"}
    assert fill(body, data) == "You have 4210 points (gold); member: yes; rate 1.5."
    # Attribute access and format specs are not placeholders: left as written, never run.
    assert fill("{points.__class__} {points:>10}", data) == "{points.__class__} {points:>10}"
    # A value is put in as text once: its own braces are not filled again.
    assert fill("{tier}", {"tier": "{secret}"}) == "{secret}"
    for bad in ({}, {"points": None}, {"points": {"a": 1}}, {"points": ""}, {"points": "x" * 201}):
        with pytest.raises(MissingField):
            fill("{points}", bad)


async def test_articles_name_an_action_and_their_text_says_its_values(
    api: tuple[str, CreatedTenant, CreatedTenant],
) -> None:
    base, a, _ = api
    h = {"X-Api-Key": a.api_key}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        made = await http.post("/v1/knowledge", json=ACTION_ARTICLE, headers=h)
        assert made.status_code == 201, made.text
        assert made.json()["action"] == "loyalty_balance"
        got = await http.get(f"/v1/knowledge/{made.json()['id']}", headers=h)
        assert got.json()["action"] == "loyalty_balance"
        for bad, field in (
            ({**ACTION_ARTICLE, "action": "Loyalty Balance"}, "action"),
            ({**ACTION_ARTICLE, "body": "Ask us about your points."}, "body"),
            ({**ACTION_ARTICLE, "body": "{points} " + "x" * 2000}, "body"),
        ):
            r = await http.post("/v1/knowledge", json=bad, headers=h)
            assert r.status_code == 422, r.text
            assert field in r.text
        # An edit can drop the action: the article is then quoted as written.
        plain = {**ACTION_ARTICLE, "action": None, "body": "Ask us about your points."}
        put = await http.put(f"/v1/knowledge/{made.json()['id']}", json=plain, headers=h)
        assert put.status_code == 200, put.text
        assert put.json()["action"] is None


async def test_a_policy_naming_another_tenants_queue_is_refused(
    api: tuple[str, CreatedTenant, CreatedTenant],
) -> None:
    base, a, b = api
    h = {"X-Api-Key": a.api_key}
    theirs = {
        "custom_actions": {"loyalty_balance": {"task_queue": f"supportflow-actions.{b.tenant_id}"}}
    }
    ours = {
        "custom_actions": {
            "loyalty_balance": {"task_queue": f"supportflow-actions.{a.tenant_id}.v2"}
        }
    }
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        before = (await http.get("/v1/policy", headers=h)).json()
        r = await http.put("/v1/policy", json=theirs, headers=h)
        assert r.status_code == 422, r.text
        assert "task queue must be the tenant's own" in r.text
        assert (await http.get("/v1/policy", headers=h)).json() == before
        ok = await http.put("/v1/policy", json=ours, headers=h)
        assert ok.status_code == 200, ok.text
        assert ok.json()["custom_actions"]["loyalty_balance"]["task_queue"].endswith(".v2")
