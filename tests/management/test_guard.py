"""The guard's rule, pure: the tenant's own baseline (mean + k sd of the previous 7 days'
hours), a floor so a quiet shop is not tripped by two refunds, no second trip while a guard
of the kind stands; and the policy overlay each effect makes."""

from __future__ import annotations

from datetime import UTC, datetime

from supportflow.management.config import ManagementConfig, SpikeRule
from supportflow.management.guard import (
    LastHourCounts,
    baseline,
    check_refunds,
    check_store_errors,
    decide,
)
from supportflow.management.metrics import hour_of
from supportflow.policy.check import ActionFacts, check
from supportflow.policy.guards import REFUND_ACTIONS, GuardEffect, overlay, policy_actions_of
from supportflow.policy.model import ALL_ACTIONS, TenantPolicy
from supportflow.store.actions import StoreAction

NOW = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
H = hour_of(NOW)


def history(per_hour: dict[str, float], *, days: int = 7) -> dict[int, dict[str, float]]:
    """Every whole hour before the window, with these counters."""
    return {H - 2 - i: dict(per_hour) for i in range(days * 24)}


def window(
    refunds: int = 0, amount: float = 0.0, errors: int = 0, actions: tuple[str, ...] = ()
) -> LastHourCounts:
    return LastHourCounts(
        end=NOW, refunds=refunds, refund_amount=amount, store_errors=errors, error_actions=actions
    )


def test_baseline_is_mean_and_population_sd() -> None:
    b = baseline([1.0, 3.0])
    assert (b.mean, b.sd, b.hours) == (2.0, 1.0, 2)
    assert baseline([]).hours == 0


def test_a_quiet_new_shop_is_not_tripped_by_two_refunds_but_is_by_a_burst() -> None:
    rule = SpikeRule()
    assert check_refunds({}, window(2, 80.0), rule) is None  # above a zero baseline, under floor
    tripped = check_refunds({}, window(5, 90.0), rule)
    assert tripped is not None and tripped.kind == "refund_spike"
    assert tripped.effect == "require_approval" and tripped.actions == REFUND_ACTIONS
    assert "refunds: 5 in the last hour" in tripped.reason
    # The amount alone trips too: two large refunds past the amount floor.
    assert check_refunds({}, window(2, 900.0), rule) is not None


def test_a_busy_shop_trips_only_far_above_its_own_baseline() -> None:
    busy = {H - 2 - i: {"refunds": float(8 + (i % 5)), "refund_amount": 400.0} for i in range(168)}
    rule = SpikeRule()
    base = baseline([float(8 + (i % 5)) for i in range(168)])
    assert check_refunds(busy, window(12, 400.0), rule) is None  # an ordinary busy hour
    over = int(base.mean + 4 * base.sd) + 1
    found = check_refunds(busy, window(over, 400.0), rule)
    assert found is not None
    refunds = next(f for f in found.findings if f.metric == "refunds")
    assert refunds.tripped and abs(refunds.threshold - (base.mean + 4 * base.sd)) < 1e-9


def test_the_window_hours_are_not_in_their_own_baseline() -> None:
    # Refunds in the current and previous hour (the window) do not raise the bar.
    buckets = {H: {"refunds": 50.0}, H - 1: {"refunds": 50.0}}
    assert check_refunds(buckets, window(6, 0.0), SpikeRule()) is not None


def test_thresholds_are_the_tenants_own() -> None:
    lenient = SpikeRule(min_count=20, min_amount=10_000)
    assert check_refunds({}, window(10, 900.0), lenient) is None
    strict = SpikeRule(sigmas=1.0, min_count=1, min_amount=1)
    assert check_refunds(history({"refunds": 1.0}), window(2, 10.0), strict) is not None


def test_no_second_trip_while_a_guard_of_the_kind_stands_and_none_when_off() -> None:
    config = ManagementConfig()
    burst = window(9, 2000.0, errors=9, actions=("refund_order",))
    assert [d.kind for d in decide({}, burst, config, set())] == [
        "refund_spike",
        "store_error_burst",
    ]
    assert [d.kind for d in decide({}, burst, config, {"refund_spike"})] == ["store_error_burst"]
    assert decide({}, burst, config, {"refund_spike", "store_error_burst"}) == []
    off = config.model_copy(update={"guard_enabled": False})
    assert decide({}, burst, off, set()) == []


def test_a_store_error_burst_pauses_the_failing_writes_or_all_when_unnamed() -> None:
    rule = SpikeRule()
    named = check_store_errors({}, window(errors=6, actions=("refund_order", "hold_order")), rule)
    assert named is not None and named.actions == {StoreAction.CANCEL_ORDER}
    unnamed = check_store_errors({}, window(errors=6), rule)
    assert unnamed is not None and unnamed.actions == ALL_ACTIONS
    assert check_store_errors({}, window(errors=4), rule) is None
    assert policy_actions_of(["modify_user_address", "nonsense"]) == {
        StoreAction.MODIFY_USER_ADDRESS
    }


def test_overlay_only_tightens_and_the_check_sees_it() -> None:
    policy = TenantPolicy(approval_required=frozenset({StoreAction.MODIFY_ORDER_ADDRESS}))
    assert overlay(policy, []) is policy
    tight = overlay(
        policy,
        [
            GuardEffect("require_approval", REFUND_ACTIONS),
            GuardEffect("pause", frozenset({StoreAction.MODIFY_USER_ADDRESS})),
        ],
    )
    assert tight.approval_required == REFUND_ACTIONS | {StoreAction.MODIFY_ORDER_ADDRESS}
    assert StoreAction.MODIFY_USER_ADDRESS not in tight.agents["support"]
    facts = ActionFacts(refund_amount=10.0)
    assert check(policy, StoreAction.CANCEL_ORDER, facts).verdict == "allowed"
    assert check(tight, StoreAction.CANCEL_ORDER, facts).verdict == "needs_approval"
    assert check(tight, StoreAction.MODIFY_USER_ADDRESS, facts).verdict == "denied"
    assert policy.approval_required == {StoreAction.MODIFY_ORDER_ADDRESS}  # unchanged
