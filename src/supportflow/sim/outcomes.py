"""Did a conversation leave the store as its behaviour must? Checked on the final state.

An expectation is a small dict (JSON in the report):
``unchanged`` the order is as it was when picked; ``status`` the order's status;
``refunded_once`` every payment refunded exactly once, in full; ``address`` the order ships
there; ``payments_unchanged`` no payment or refund was added; ``return_item_ids`` the order's
return lists these items; ``escalated`` whether a person was brought in (other behaviours'
escalations count in the escalation rate, not here); ``timed_out`` the agent closed the
unanswered case itself.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from supportflow.sim.population import Doc

_ORDER_FIELDS = ("status", "address", "items", "payment_history")


@dataclass(frozen=True)
class Facts:
    """What the check reads besides the order: from the conversation's transcript."""

    escalated: bool
    timed_out: bool


def check(
    expected: dict[str, Any], before: Doc | None, after: Doc | None, facts: Facts
) -> list[str]:
    """Every way the final state differs from what was expected (empty: correct)."""
    wrong: list[str] = []
    if before is not None and after is None:
        return ["the order is gone from the store"]
    if "escalated" in expected and facts.escalated != expected["escalated"]:
        wrong.append(f"escalated={facts.escalated}, expected {expected['escalated']}")
    if expected.get("timed_out") and not facts.timed_out:
        wrong.append("the unanswered case was never closed by its timeout")
    if before is None or after is None:
        return wrong
    if expected.get("unchanged"):
        for f in _ORDER_FIELDS:
            if before.get(f) != after.get(f):
                wrong.append(f"order {f} changed")
    if "status" in expected and after["status"] != expected["status"]:
        wrong.append(f"status {after['status']!r}, expected {expected['status']!r}")
    if expected.get("refunded_once"):
        wrong += _refunded_once(after)
    if "address" in expected:
        got = {k: after["address"].get(k, "") for k in expected["address"]}
        if got != expected["address"]:
            wrong.append(f"address {got}, expected {expected['address']}")
    if expected.get("payments_unchanged") and before["payment_history"] != after["payment_history"]:
        wrong.append("payments changed")
    if "return_item_ids" in expected:
        got_items = sorted(after.get("return_items") or [])
        if got_items != sorted(expected["return_item_ids"]):
            wrong.append(f"return items {got_items}, expected {expected['return_item_ids']}")
    return wrong


def _refunded_once(order: Doc) -> list[str]:
    paid: Counter[str] = Counter()
    refunded: Counter[str] = Counter()
    refunds: Counter[str] = Counter()
    for entry in order["payment_history"]:
        cents = round(float(entry["amount"]) * 100)
        if entry["transaction_type"] == "payment":
            paid[entry["payment_method_id"]] += cents
        else:
            refunded[entry["payment_method_id"]] += cents
            refunds[entry["payment_method_id"]] += 1
    out = []
    if paid != refunded:
        out.append(f"refunded {dict(refunded)}c of payments {dict(paid)}c")
    if any(n != 1 for n in refunds.values()):
        out.append(f"refunds per method {dict(refunds)}, expected one each")
    return out
