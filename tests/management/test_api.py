"""GET /v1/metrics, the guards and the settings over the real API on loopback (no Temporal):
who may read and change what, only the caller's tenant, ranges refused with a clear message,
figures summed from metric_buckets, and conversions per experiment arm with their Wilson
intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from supportflow.db.models import AuditLogRow, SalesConversion, SalesTouch
from supportflow.management.buckets_store import write_buckets
from supportflow.management.guards_store import trip
from supportflow.management.metrics import hour_of
from supportflow.policy.store import PolicyStore
from supportflow.sales.stats import wilson
from tests.console.conftest import Console

# Whole hours well in the past, so the ranges below are fixed.
T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
H0 = hour_of(T0)


def key(c: Console, *, other: bool = False) -> dict[str, str]:
    return {"X-Api-Key": (c.other if other else c.shop).api_key}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_everything_needs_a_key_a_token_or_a_session(console: Console) -> None:
    for method, path in (
        ("GET", "/v1/metrics"),
        ("GET", "/v1/guards"),
        ("POST", f"/v1/guards/gd_{'0' * 24}/lift"),
        ("GET", "/v1/management/settings"),
        ("PUT", "/v1/management/settings"),
    ):
        r = await console.http.request(method, path)
        assert r.status_code == 401, (method, path, r.text)
    r = await console.http.get("/v1/metrics", headers={"X-Api-Key": "sf_wrong"})
    assert r.status_code == 401


async def test_figures_come_from_the_tenants_own_buckets_by_hour_and_by_day(
    console: Console,
) -> None:
    write_buckets(
        console.sessions,
        console.shop.tenant_id,
        {
            H0: {"cases_closed": 4, "cases_by_person": 1, "refunds": 2, "refund_amount": 80.5},
            H0 + 1: {"cases_closed": 2, "csat_count": 2, "csat_sum": 9},
            H0 + 30: {"handoffs": 3},
        },
    )
    write_buckets(console.sessions, console.other.tenant_id, {H0: {"cases_closed": 99}})
    span = {"from": T0.isoformat(), "to": (T0 + timedelta(hours=6)).isoformat()}
    r = await console.http.get(
        "/v1/metrics", params={**span, "bucket": "hour"}, headers=key(console)
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["series"]) == 6 and body["bucket"] == "hour"
    assert body["totals"]["cases_closed"] == 6 and body["totals"]["refund_amount"] == 80.5
    assert body["derived"]["automation_rate"] == 5 / 6 and body["derived"]["csat_mean"] == 4.5
    assert body["series"][0]["counters"]["cases_closed"] == 4
    assert body["series"][1]["derived"]["csat_mean"] == 4.5
    assert body["totals"]["handoffs"] == 0  # hour 30 is outside the range
    days = await console.http.get(
        "/v1/metrics",
        params={
            "from": T0.isoformat(),
            "to": (T0 + timedelta(days=2)).isoformat(),
            "bucket": "day",
        },
        headers=key(console),
    )
    series = days.json()["series"]
    assert [p["counters"]["cases_closed"] for p in series] == [6, 0]
    assert [p["counters"]["handoffs"] for p in series] == [0, 3]
    # Another tenant's key reads only its own figures.
    theirs = await console.http.get("/v1/metrics", params=span, headers=key(console, other=True))
    assert theirs.json()["totals"]["cases_closed"] == 99
    assert theirs.json()["totals"]["refunds"] == 0
    # Any operator of the tenant reads them; a naive time is UTC.
    agent = console.operator("agent")
    naive = {"from": "2026-06-01T00:00:00", "to": "2026-06-01T06:00:00"}
    mine = await console.http.get("/v1/metrics", params=naive, headers=bearer(agent.api_token))
    assert mine.status_code == 200 and mine.json()["totals"]["cases_closed"] == 6


async def test_ranges_that_cannot_be_answered_are_refused(console: Console) -> None:
    for params in (
        {"from": "2026-06-02T00:00:00Z", "to": "2026-06-01T00:00:00Z"},
        {"from": "2026-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z", "bucket": "hour"},
        {"from": "2000-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z", "bucket": "day"},
        {"from": "0001-01-01T00:00:00Z"},
        {"to": "9999-12-31T23:59:59Z"},
        {"bucket": "week"},
        {"from": "yesterday"},
    ):
        r = await console.http.get("/v1/metrics", params=params, headers=key(console))
        assert r.status_code == 422, (params, r.text)
        assert r.json()["detail"]


async def test_conversions_per_experiment_arm_with_wilson_intervals(console: Console) -> None:
    tenant = console.shop.tenant_id
    at = T0 + timedelta(hours=2)
    with console.sessions.begin() as s:
        for arm, touches, converted in (("offer", 20, 6), ("none", 20, 2)):
            for i in range(touches):
                tid = f"{tenant}:{arm}:{i}"
                s.add(
                    SalesTouch(
                        touch_id=tid,
                        tenant_id=tenant,
                        store_user_id=f"u{i}",
                        kind="abandoned_checkout",
                        subject_id=f"chk{i}",
                        experiment_id="exp_1",
                        arm=arm,
                        status="sent" if arm == "offer" else "control",
                        workflow_id=f"wf-{tid}",
                        at=at,
                    )
                )
            s.flush()
            for i in range(converted):
                s.add(
                    SalesConversion(
                        tenant_id=tenant,
                        order_id=f"#{arm}{i}",
                        touch_id=f"{tenant}:{arm}:{i}",
                        amount=Decimal("50.00"),
                        placed_at=at,
                    )
                )
        # A second order for one converted touch: one more order, not one more conversion.
        s.add(
            SalesConversion(
                tenant_id=tenant,
                order_id="#offer-again",
                touch_id=f"{tenant}:offer:0",
                amount=Decimal("10.00"),
                placed_at=at,
            )
        )
    span = {"from": T0.isoformat(), "to": (T0 + timedelta(days=1)).isoformat()}
    r = await console.http.get("/v1/metrics", params=span, headers=key(console))
    arms = {a["arm"]: a for a in r.json()["experiments"]}
    assert set(arms) == {"offer", "none"}
    offer = arms["offer"]
    assert (offer["touches"], offer["converted"], offer["orders"]) == (20, 6, 7)
    assert offer["order_amount"] == 310.0 and offer["conversion_rate"] == 0.3
    assert offer["interval"] == wilson(6, 20).interval.as_list()
    assert arms["none"]["interval"] == wilson(2, 20).interval.as_list()
    theirs = await console.http.get("/v1/metrics", params=span, headers=key(console, other=True))
    assert theirs.json()["experiments"] == []


async def test_guards_are_listed_and_lifted_only_within_the_tenant_by_the_right_roles(
    console: Console,
) -> None:
    tenant = console.shop.tenant_id
    guard, _ = trip(
        console.sessions,
        tenant_id=tenant,
        guard_id="gd_" + "e" * 24,
        kind="store_error_burst",
        effect="pause",
        actions=["cancel_order"],
        reason="store_errors: 9 in the last hour",
    )
    lift = f"/v1/guards/{guard.guard_id}/lift"
    # Agents see the guard; the policy editor reads the merchant's own policy, so saving it
    # back never makes the pause permanent.
    assert "cancel_order" not in PolicyStore(console.sessions).get(tenant).agents["support"]
    written = await console.http.get("/v1/policy", headers=key(console))
    assert "cancel_order" in written.json()["agents"]["support"]
    supervisor = console.operator("supervisor")
    agent = console.operator("agent")
    r = await console.http.get("/v1/guards", headers=bearer(agent.api_token))
    assert [g["guard_id"] for g in r.json()["guards"]] == [guard.guard_id]
    assert (await console.http.post(lift, headers=bearer(agent.api_token))).status_code == 403
    assert (await console.http.post(lift, headers=key(console, other=True))).status_code == 404
    bad = await console.http.post("/v1/guards/not-a-guard/lift", headers=key(console))
    assert bad.status_code == 422
    ok = await console.http.post(lift, headers=key(console))  # the merchant's key may
    assert ok.status_code == 200 and ok.json()["lifted_by"] == "api_key"
    again = await console.http.post(lift, headers=bearer(supervisor.api_token))
    assert again.status_code == 409
    with console.sessions() as s:
        (entry,) = s.scalars(
            select(AuditLogRow).where(
                AuditLogRow.tenant_id == tenant, AuditLogRow.action == "guard.lift"
            )
        )
    assert (entry.actor_kind, entry.target) == ("api_key", guard.guard_id)
    assert entry.details == {"kind": "store_error_burst", "effect": "pause"}


async def test_settings_are_read_by_operators_and_changed_by_admins(console: Console) -> None:
    supervisor = console.operator("supervisor")
    admin = console.operator("admin")
    path = "/v1/management/settings"
    r = await console.http.get(path, headers=bearer(supervisor.api_token))
    assert r.status_code == 200 and r.json()["poll_interval"] == "PT5M"
    doc = {"poll_interval": "PT2M", "refund_spike": {"min_count": 3, "min_amount": 250}}
    denied = await console.http.put(path, json=doc, headers=bearer(supervisor.api_token))
    assert denied.status_code == 403
    wrong = await console.http.put(
        path, json={"refund_spike": {"sigma": 3}}, headers=bearer(admin.api_token)
    )
    assert wrong.status_code == 422 and "refund_spike.sigma" in wrong.json()["detail"]
    ok = await console.http.put(path, json=doc, headers=bearer(admin.api_token))
    assert ok.status_code == 200 and ok.json()["refund_spike"]["min_count"] == 3
    mine = await console.http.get(path, headers=key(console))
    theirs = await console.http.get(path, headers=key(console, other=True))
    assert mine.json()["poll_interval"] == "PT2M" and theirs.json()["poll_interval"] == "PT5M"
