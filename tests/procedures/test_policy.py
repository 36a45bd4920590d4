"""Tenant policy: defaults are DESIGN §4, files are validated on load, check() is the gate."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from supportflow.policy import ActionFacts, PolicyError, TenantPolicy, check, load_policy
from supportflow.policy.load import parse_policy
from supportflow.policy.model import ALL_ACTIONS


def test_defaults_let_the_support_agent_do_every_store_action() -> None:
    policy = TenantPolicy()
    assert policy.agents["support"] == ALL_ACTIONS
    assert policy.max_auto_refund is None and policy.approval_above is None
    for action in ALL_ACTIONS:
        decision = check(policy, action, ActionFacts(refund_amount=9_999))
        assert decision.verdict == "allowed", action
    assert not policy.allows("sales", "cancel_order")


def test_an_action_not_enabled_for_the_agent_is_denied_in_plain_words() -> None:
    policy = parse_policy({"agents": {"support": ["modify_order_address"]}})
    decision = check(policy, "cancel_order", ActionFacts())
    assert decision.verdict == "denied" and decision.rule_id == "action_not_allowed"
    assert "not able to do myself" in decision.reason_for_customer
    assert check(policy, "modify_order_address", ActionFacts()).allowed


def test_money_limits_deny_above_the_max_and_ask_approval_above_the_threshold() -> None:
    policy = parse_policy({"max_auto_refund": 500, "approval_above": 100})
    assert check(policy, "cancel_order", ActionFacts(refund_amount=100)).allowed
    approval = check(policy, "cancel_order", ActionFacts(refund_amount=100.01))
    assert (approval.verdict, approval.rule_id) == ("needs_approval", "approval_above_threshold")
    charge = check(policy, "exchange_order_items", ActionFacts(charge_amount=150))
    assert charge.verdict == "needs_approval"
    denied = check(policy, "return_order_items", ActionFacts(refund_amount=500.01))
    assert (denied.verdict, denied.rule_id) == ("denied", "refund_above_limit")
    assert "larger than I'm allowed" in denied.reason_for_customer


def test_order_age_limits_per_action() -> None:
    policy = parse_policy({"max_order_age_days": {"return_order_items": 30}})
    assert check(policy, "return_order_items", ActionFacts(order_age_days=29.5)).allowed
    old = check(policy, "return_order_items", ActionFacts(order_age_days=31))
    assert (old.verdict, old.rule_id) == ("denied", "order_too_old")
    assert "30 days" in old.reason_for_customer
    unknown = check(policy, "return_order_items", ActionFacts(order_age_days=None))
    assert (unknown.verdict, unknown.rule_id) == ("needs_approval", "order_age_unknown")
    assert check(policy, "cancel_order", ActionFacts(order_age_days=400)).allowed


def test_actions_that_always_need_approval() -> None:
    policy = parse_policy({"approval_required": ["modify_order_payment"]})
    decision = check(policy, "modify_order_payment", ActionFacts())
    assert (decision.verdict, decision.rule_id) == (
        "needs_approval",
        "approval_required_for_action",
    )


def test_denial_wins_over_approval() -> None:
    policy = parse_policy({"approval_required": ["cancel_order"], "max_auto_refund": 10})
    assert check(policy, "cancel_order", ActionFacts(refund_amount=11)).verdict == "denied"


@pytest.mark.parametrize(
    ("doc", "complaint"),
    [
        ({"max_auto_refund": -1}, "max_auto_refund"),
        ({"approval_above": 600, "max_auto_refund": 500}, "approval_above must not exceed"),
        ({"agents": {"support": ["launch_rockets"]}}, "agents.support"),
        ({"agents": {"robot": []}}, "agents.robot"),
        ({"max_order_age_days": {"cancel_order": 0}}, "at least 1"),
        ({"confirmation_timeout": 0}, "confirmation_timeout must be positive"),
        ({"max_auto_refnd": 10}, "max_auto_refnd"),
        ({"version": 2}, "version"),
    ],
)
def test_invalid_policies_are_refused_with_the_reason(
    doc: dict[str, object], complaint: str
) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(doc)
    assert complaint in str(err.value)


def test_load_from_json_and_yaml_files(tmp_path: Path) -> None:
    doc = {
        "max_auto_refund": 250,
        "approval_above": 100,
        "confirmation_timeout": 1800,
        "agents": {"support": ["cancel_order", "return_order_items"]},
    }
    as_json = tmp_path / "policy.json"
    as_json.write_text(json.dumps(doc))
    as_yaml = tmp_path / "policy.yaml"
    as_yaml.write_text(
        "max_auto_refund: 250\napproval_above: 100\nconfirmation_timeout: PT30M\n"
        "agents:\n  support: [cancel_order, return_order_items]\n"
    )
    for path in (as_json, as_yaml):
        policy = load_policy(path)
        assert policy.max_auto_refund == 250
        assert policy.confirmation_timeout == timedelta(minutes=30)
        assert policy.agents["support"] == {"cancel_order", "return_order_items"}
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_policy(empty) == TenantPolicy()


def test_unreadable_files_raise_policy_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    broken_yaml = tmp_path / "bad.yaml"
    broken_yaml.write_text("a: [1, 2\n")
    not_a_map = tmp_path / "list.yaml"
    not_a_map.write_text("- 1\n- 2\n")
    other = tmp_path / "policy.toml"
    other.write_text("")
    for path in (bad, broken_yaml, not_a_map, other):
        with pytest.raises(PolicyError):
            load_policy(path)
