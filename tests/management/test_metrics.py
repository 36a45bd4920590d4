"""Rolling hourly metrics, pure: what each event adds, folding a batch into the kept buckets
(8 days), totals and the rates derived from them; and what an agent event may carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from supportflow.management.events import AgentEvent, handoff_key, store_write_key
from supportflow.management.metrics import (
    KEEP_HOURS,
    CountedEvent,
    derived,
    fold,
    hour_of,
    hour_start,
    summarize,
    totals,
)

T0 = datetime(2026, 11, 30, 10, 15, tzinfo=UTC)


def closed(outcome: str, *, by_person: bool = False, at: datetime = T0) -> CountedEvent:
    return CountedEvent("case_closed", at, None, {"outcome": outcome, "by_person": by_person})


def test_a_batch_is_summed_per_hour_and_rates_are_derived_from_the_sums() -> None:
    events = [
        closed("resolved"),
        closed("resolved"),
        closed("escalated"),
        closed("resolved", by_person=True, at=T0 + timedelta(hours=1)),
        CountedEvent("refund", T0, Decimal("10.10")),
        CountedEvent("refund", T0, Decimal("0.20")),
        CountedEvent("csat", T0, None, {"rating": 5}),
        CountedEvent("csat", T0 + timedelta(hours=1), None, {"rating": 2}),
        CountedEvent("conversion", T0, Decimal("99.99")),
        CountedEvent("something_new", T0),  # a kind this version does not know: ignored
    ]
    b = summarize(events)
    h = hour_of(T0)
    assert set(b) == {h, h + 1}
    assert b[h]["cases_closed"] == 3 and b[h]["cases_resolved_alone"] == 2
    assert b[h]["refund_amount"] == 10.3 and b[h]["refunds"] == 2
    assert b[h + 1] == {
        "cases_closed": 1,
        "cases_resolved": 1,
        "cases_by_person": 1,
        "csat_count": 1,
        "csat_sum": 2,
    }
    t = totals(b, h, h + 1)
    assert t["cases_closed"] == 4 and t["handoffs"] == 0
    d = derived(t)
    assert d["automation_rate"] == 3 / 4  # one of four closed by a person
    assert d["resolved_alone_rate"] == 2 / 4
    assert d["csat_mean"] == 3.5
    assert derived(totals({}, h, h)) == {
        "automation_rate": None,
        "resolved_alone_rate": None,
        "csat_mean": None,
    }


def test_fold_adds_drops_hours_older_than_eight_days_and_says_what_changed() -> None:
    now = hour_of(T0)
    kept = {now - KEEP_HOURS: {"refunds": 1.0}, now - 5: {"refunds": 2.0}}
    batch: dict[int, dict[str, float]] = {
        now - 5: {"refunds": 1.0},
        now: {"handoffs": 1.0},
        now - KEEP_HOURS - 3: {"saves": 1.0},
    }
    merged, touched = fold(kept, batch, now)
    assert merged == {now - 5: {"refunds": 3.0}, now: {"handoffs": 1.0}}
    assert touched == [now - 5, now]
    assert kept[now - 5] == {"refunds": 2.0}  # the input is not changed
    assert hour_start(now) == T0.replace(minute=0)


def test_money_sums_stay_in_cents() -> None:
    b = summarize([CountedEvent("refund", T0, Decimal("0.10")) for _ in range(30)])
    assert b[hour_of(T0)]["refund_amount"] == 3.0


def test_an_event_carries_ids_and_amounts_never_free_text() -> None:
    ok = AgentEvent(
        tenant_id="t1",
        event_key=handoff_key("sf/t1/customer/c_1", T0),
        kind="case_closed",
        at=T0,
        subject="#W123",
        data={"outcome": "resolved", "by_person": False, "intent": "cancel_order"},
    )
    assert ok.at.tzinfo is UTC
    bad: list[dict[str, object]] = [
        {"data": {"outcome": "resolved", "note": "the customer said hi"}},  # free text
        {"data": {"outcome": "resolved", "email": "a@b.example"}},  # an email
        {"subject": "someone@example.com"},
        {"data": {"outcome": "maybe"}},
        {"at": T0.replace(tzinfo=None)},  # no time zone
        {"event_key": "has spaces in it"},
    ]
    for change in bad:
        fields = {**ok.model_dump(), **change}
        with pytest.raises(ValidationError):
            AgentEvent.model_validate(fields)
    with pytest.raises(ValidationError, match="rating"):
        AgentEvent(tenant_id="t1", event_key="c1", kind="csat", at=T0, data={"rating": 6})
    with pytest.raises(ValidationError, match="amount"):
        AgentEvent(tenant_id="t1", event_key="r1", kind="refund", at=T0)
    with pytest.raises(ValidationError, match="amount"):
        AgentEvent(tenant_id="t1", event_key="r1", kind="refund", at=T0, amount=Decimal("-1"))


def test_shared_keys_are_stable_and_fit() -> None:
    since = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    naive = since.replace(tzinfo=None)  # SQLite gives the inbox's times back without a zone
    assert handoff_key("wf", since) == handoff_key("wf", naive)
    long = store_write_key("refund", "sf:" + "x" * 240)
    assert len(long) <= 200 and long.startswith("refund:sha256:")
    assert long == store_write_key("refund", "sf:" + "x" * 240)
