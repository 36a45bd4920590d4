"""The outcome check: what each expectation accepts and what it catches."""

from __future__ import annotations

import copy
from typing import Any

from supportflow.sim.outcomes import Facts, check

QUIET = Facts(escalated=False, timed_out=False)


def order(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "order_id": "#W1000001",
        "status": "pending",
        "address": {"address1": "1 A St", "address2": "", "city": "X", "state": "TX", "zip": "1"},
        "items": [{"item_id": "i1", "price": 10.0}, {"item_id": "i2", "price": 5.5}],
        "payment_history": [
            {"transaction_type": "payment", "amount": 15.5, "payment_method_id": "card_1"}
        ],
    }
    return {**base, **over}


def refund(amount: float, method: str = "card_1") -> dict[str, Any]:
    return {"transaction_type": "refund", "amount": amount, "payment_method_id": method}


def test_unchanged_catches_any_change_to_the_order() -> None:
    before = order()
    assert check({"unchanged": True}, before, copy.deepcopy(before), QUIET) == []
    moved = order(address={**before["address"], "zip": "2"})
    assert check({"unchanged": True}, before, moved, QUIET) == ["order address changed"]


def test_cancelled_and_refunded_once() -> None:
    before = order()
    want = {"status": "cancelled", "refunded_once": True}
    done = order(status="cancelled", payment_history=[*before["payment_history"], refund(15.5)])
    assert check(want, before, done, QUIET) == []
    twice = order(
        status="cancelled",
        payment_history=[*before["payment_history"], refund(15.5), refund(15.5)],
    )
    wrong = check(want, before, twice, QUIET)
    assert any("refunds per method" in w for w in wrong)
    assert any("refunded" in w for w in wrong)
    short = order(status="cancelled", payment_history=[*before["payment_history"], refund(5)])
    assert check(want, before, short, QUIET) != []
    assert check(want, before, before, QUIET) == [
        "status 'pending', expected 'cancelled'",
        "refunded {}c of payments {'card_1': 1550}c",
    ]


def test_address_change_must_not_cancel_or_move_money() -> None:
    before = order()
    new = {"address1": "9 B Rd", "address2": "", "city": "Y", "state": "IL", "zip": "60601"}
    want = {"status": "pending", "address": new, "payments_unchanged": True}
    assert check(want, before, order(address={**new, "country": "USA"}), QUIET) == []
    cancelled = order(
        status="cancelled", payment_history=[*before["payment_history"], refund(15.5)]
    )
    wrong = check(want, before, cancelled, QUIET)
    assert len(wrong) == 3  # status, address, payments


def test_escalation_timeout_and_a_vanished_order() -> None:
    assert check({"escalated": True}, None, None, QUIET) == ["escalated=False, expected True"]
    assert check({"escalated": True}, None, None, Facts(True, False)) == []
    assert check({"timed_out": True}, None, None, QUIET) != []
    assert check({"unchanged": True}, order(), None, QUIET) == ["the order is gone from the store"]


def test_return_lists_the_items() -> None:
    before = order(status="delivered")
    want = {"status": "return requested", "return_item_ids": ["i1"]}
    ok = order(status="return requested", return_items=["i1"])
    assert check(want, before, ok, QUIET) == []
    assert check(want, before, order(status="return requested", return_items=["i2"]), QUIET)
