"""The declared store actions (``store.actions``): every write has a spec and an activity, the
names on the wire are the ones recorded histories and stored policies hold, and the models that
carry actions serialise exactly as they did when the actions were Literal strings."""

from __future__ import annotations

import json
import typing

import pytest
from temporalio import activity

from supportflow.activities.actions import ActionActivities, write_activity
from supportflow.activities.contract import ActionDone
from supportflow.policy.load import PolicyError, parse_policy
from supportflow.policy.model import ALL_ACTIONS, TenantPolicy
from supportflow.procedures.case import ActionPlan, ApprovalRequest, CaseState
from supportflow.store.actions import ACTIONS, POLICY_ACTIONS, PolicyAction, StoreAction
from supportflow.store.adapters.demo_client import StoreClient
from supportflow.store.port import Capability

# As recorded in tests/histories (activity types, ActionDone.action) and in tenants' policies:
# these strings must never change.
WIRE_NAMES = [
    "hold_order",
    "release_order",
    "refund_order",
    "cancel_order",
    "modify_order_address",
    "modify_order_payment",
    "modify_order_items",
    "return_order_items",
    "exchange_order_items",
    "modify_user_address",
]
# Hold, release and refund are only steps of the cancel plan: no policy rule names them.
UNGOVERNED = {"hold_order", "release_order", "refund_order"}


def test_the_wire_names_are_the_recorded_ones() -> None:
    assert [a.value for a in StoreAction] == WIRE_NAMES
    assert {a.value for a in POLICY_ACTIONS} == set(WIRE_NAMES) - UNGOVERNED
    assert set(typing.get_args(PolicyAction)) == POLICY_ACTIONS == ALL_ACTIONS


def test_every_action_has_its_spec() -> None:
    assert set(ACTIONS) == set(StoreAction)
    for action, spec in ACTIONS.items():
        assert spec.action is action
        # CaseFacts.capabilities holds capability values; histories recorded them by name.
        assert isinstance(spec.capability, Capability)
        assert spec.capability.value == action.value
        assert spec.activity_name == spec.audit_name == action.value
        assert spec.governed == (action.value not in UNGOVERNED)
    assert len({s.capability for s in ACTIONS.values()}) == len(StoreAction)


@pytest.mark.parametrize("action", list(StoreAction), ids=str)
def test_every_action_has_its_activity(action: StoreAction) -> None:
    bound = write_activity(action)
    defn = activity._Definition.must_from_callable(bound.method)
    assert defn.name == ACTIONS[action].activity_name
    assert defn.arg_types == [bound.input_model]
    assert defn.ret_type is ActionDone
    # The method the worker registers under that name is this one.
    assert getattr(ActionActivities, action.value) is bound.method


async def test_the_worker_registers_the_read_and_one_activity_per_write() -> None:
    async with StoreClient("http://127.0.0.1:9") as store:
        registered = ActionActivities(store).all()
    names = [activity._Definition.must_from_callable(fn).name for fn in registered]
    assert names == ["load_case_facts", *WIRE_NAMES]


def test_plans_and_approvals_serialise_as_before() -> None:
    plan = json.dumps(
        {
            "case_id": "wf/case/1",
            "action": "cancel_order",
            "attempt": 1,
            "steps": [
                {
                    "name": "hold",
                    "action": "hold_order",
                    "args": {"order_id": "#W1", "reason": "no longer needed"},
                    "compensation": {
                        "name": "release",
                        "action": "release_order",
                        "args": {"order_id": "#W1"},
                        "compensation": None,
                        "pivot": False,
                    },
                    "pivot": False,
                },
                {
                    "name": "cancel",
                    "action": "cancel_order",
                    "args": {"order_id": "#W1"},
                    "compensation": None,
                    "pivot": True,
                },
            ],
        },
        separators=(",", ":"),
    )
    loaded = ActionPlan.model_validate_json(plan)
    assert loaded.steps[0].compensation is not None
    assert loaded.steps[0].compensation.action is StoreAction.RELEASE_ORDER
    assert loaded.model_dump_json() == plan
    # Python-mode dumps compare equal to the strings they replace.
    assert loaded.model_dump()["steps"][0]["action"] == "hold_order"
    assert json.loads(json.dumps(loaded.model_dump(mode="python")))["action"] == "cancel_order"
    approval = (
        '{"case_id":"wf/case/1","action":"return_order_items","order_id":"#W1",'
        '"rule_id":"approval_above_threshold","summary":{},'
        '"requested_at":"2025-06-01T12:00:00Z"}'
    )
    # An approval recorded before operators decided them reads as pending, its wire names as
    # they were (the decision's fields are added after them).
    loaded_approval = ApprovalRequest.model_validate_json(approval)
    assert loaded_approval.status == "pending" and loaded_approval.decided_by is None
    assert loaded_approval.model_dump_json().startswith(approval[:-1] + ',"status":"pending"')
    with pytest.raises(ValueError, match="hold_order"):
        # A step of a plan, not something an operator approves.
        ApprovalRequest.model_validate_json(approval.replace("return_order_items", "hold_order"))
    case = CaseState.model_validate_json(
        '{"case_id":"c","procedure":"cancel","intent":"cancel_order",'
        '"opened_at":"2025-06-01T12:00:00Z"}'
    )
    assert CaseState.model_validate_json(case.model_dump_json()) == case


def test_a_stored_policy_loads_and_dumps_the_same_strings() -> None:
    doc = {
        "agents": {"support": ["cancel_order", "modify_user_address"], "sales": []},
        "approval_required": ["modify_order_payment"],
        "max_order_age_days": {"return_order_items": 30},
    }
    policy = parse_policy(doc)
    assert policy.allows("support", StoreAction.CANCEL_ORDER)
    dumped = json.loads(policy.model_dump_json())
    assert sorted(dumped["agents"]["support"]) == ["cancel_order", "modify_user_address"]
    assert dumped["approval_required"] == ["modify_order_payment"]
    assert dumped["max_order_age_days"] == {"return_order_items": 30}
    assert TenantPolicy.model_validate_json(policy.model_dump_json()) == policy


def test_a_misspelt_policy_action_is_named_in_plain_strings() -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy({"approval_required": ["cancel_orders"]})
    message = str(err.value)
    assert "approval_required" in message and "'cancel_order'" in message
    assert "StoreAction" not in message
    with pytest.raises(PolicyError, match="hold_order"):
        parse_policy({"max_order_age_days": {"hold_order": 3}})
