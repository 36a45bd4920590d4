"""Action activities against the real demo store over HTTP: ownership, error mapping, and
idempotency (same key twice, and a retry after a committed-but-failed write: one effect)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from supportflow.activities.actions import ActionActivities
from supportflow.activities.contract import (
    CancelOrderInput,
    HoldOrderInput,
    LoadCaseFactsInput,
    ModifyOrderAddressInput,
    ModifyUserAddressInput,
    RefundOrderInput,
)
from supportflow.policy.model import TenantPolicy
from supportflow.procedures.base import finish, step
from supportflow.procedures.case import ActionStep
from supportflow.procedures.saga import ActionResult, run_saga
from supportflow.store.adapters.demo_client import StoreClient
from supportflow.store.errors import StoreUnavailable
from supportflow.workflows.saga_steps import action_input
from tests.procedures.conftest import NOW, Doc, find_order, source_of, u

ADDRESS = {
    "address1": "12 Oak Street",
    "address2": "Apt 4",
    "city": "Austin",
    "state": "TX",
    "country": "USA",
    "zip": "78701",
}


@pytest.fixture
async def http(admin_store_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=admin_store_url, timeout=10) as client:
        yield client
        (await client.delete("/admin/faults")).raise_for_status()


@pytest.fixture
async def acts(admin_store_url: str) -> AsyncIterator[ActionActivities]:
    async with StoreClient(admin_store_url, timeout=10) as store:
        yield ActionActivities(store)


class Picker:
    def __init__(self, seed: Doc) -> None:
        self.seed = seed
        self.used: set[str] = set()

    def take(self, status: str, source: str | None = None) -> Doc:
        def ok(o: Doc, us: Doc) -> bool:
            return (
                o["order_id"] not in self.used
                and o["status"] == status
                and (source is None or source_of(o, us) == source)
            )

        order = find_order(self.seed, ok)
        self.used.add(order["order_id"])
        return order


@pytest.fixture(scope="module")
def picker(seed: Doc) -> Picker:
    return Picker(seed)


async def events(http: httpx.AsyncClient, entity_id: str) -> list[str]:
    r = await http.get("/admin/events", params={"entity_id": entity_id})
    r.raise_for_status()
    return [e["operation"] for e in reversed(r.json()["events"])]


async def run(fn: Any, arg: Any) -> Any:
    return await ActivityEnvironment().run(fn, arg)


def key() -> str:
    return f"test:{uuid.uuid4().hex}"


async def test_load_case_facts_gives_the_customers_order_and_its_products(
    acts: ActionActivities,
) -> None:
    facts = await run(
        acts.load_case_facts,
        LoadCaseFactsInput(tenant_id="t", store_user_id="james_li_5688", order_id="#W2611340"),
    )
    assert facts.user is not None and facts.user.user_id == "james_li_5688"
    assert facts.order is not None and facts.order.status == "processed"
    assert {i.product_id for i in facts.order.items} == set(facts.products)
    assert facts.user.payment_methods["gift_card_1725971"].balance == 17.0


async def test_load_case_facts_hides_another_customers_order(
    acts: ActionActivities, seed: Doc
) -> None:
    other = next(uid for uid in seed["users"] if uid != "james_li_5688")
    facts = await run(
        acts.load_case_facts,
        LoadCaseFactsInput(tenant_id="t", store_user_id=other, order_id="#W2611340"),
    )
    assert facts.order is None and facts.order_missing and facts.products == {}


async def test_same_key_twice_applies_once(
    acts: ActionActivities, http: httpx.AsyncClient, picker: Picker
) -> None:
    order = picker.take("pending")
    inp = ModifyOrderAddressInput(
        tenant_id="t",
        store_user_id=order["user_id"],
        idempotency_key=key(),
        order_id=order["order_id"],
        address=ADDRESS,
    )
    first = await run(acts.modify_order_address, inp)
    second = await run(acts.modify_order_address, inp)
    assert first == second
    assert await events(http, order["order_id"]) == ["modify_address"]


async def test_another_customers_order_is_refused_before_any_write(
    acts: ActionActivities, http: httpx.AsyncClient, picker: Picker, seed: Doc
) -> None:
    order = picker.take("pending")
    other = next(uid for uid in seed["users"] if uid != order["user_id"])
    with pytest.raises(ApplicationError) as err:
        await run(
            acts.cancel_order,
            CancelOrderInput(
                tenant_id="t",
                store_user_id=other,
                idempotency_key=key(),
                order_id=order["order_id"],
                reason="no longer needed",
            ),
        )
    assert err.value.non_retryable and err.value.type == "NotCustomersOrder"
    assert await events(http, order["order_id"]) == []


async def test_store_rules_are_permanent_errors(acts: ActionActivities, picker: Picker) -> None:
    order = picker.take("delivered")
    with pytest.raises(ApplicationError) as err:
        await run(
            acts.cancel_order,
            CancelOrderInput(
                tenant_id="t",
                store_user_id=order["user_id"],
                idempotency_key=key(),
                order_id=order["order_id"],
                reason="no longer needed",
            ),
        )
    assert err.value.non_retryable and err.value.type == "StoreRejected"
    with pytest.raises(ApplicationError) as missing:
        await run(
            acts.hold_order,
            HoldOrderInput(
                tenant_id="t", store_user_id="x", idempotency_key=key(), order_id="#W0000000"
            ),
        )
    assert missing.value.type == "StoreNotFound"


async def test_store_down_is_retryable(
    acts: ActionActivities, http: httpx.AsyncClient, picker: Picker
) -> None:
    order = picker.take("pending")
    fault = {"operations": {"hold": {"mode": "fail_before"}}}
    (await http.post("/admin/faults", json=fault)).raise_for_status()
    with pytest.raises(StoreUnavailable):
        await run(
            acts.hold_order,
            HoldOrderInput(
                tenant_id="t",
                store_user_id=order["user_id"],
                idempotency_key=key(),
                order_id=order["order_id"],
            ),
        )
    assert await events(http, order["order_id"]) == []


async def test_fail_after_then_retry_with_the_same_key_refunds_once(
    acts: ActionActivities, http: httpx.AsyncClient, picker: Picker, admin_store_url: str
) -> None:
    order = picker.take("pending", "gift_card")
    oid, uid = order["order_id"], order["user_id"]
    card = order["payment_history"][0]["payment_method_id"]
    paid = order["payment_history"][0]["amount"]
    async with StoreClient(admin_store_url) as store:
        before = (await store.get_user(uid))["payment_methods"][card]["balance"]  # type: ignore[index]
    await run(
        acts.hold_order,
        HoldOrderInput(tenant_id="t", store_user_id=uid, idempotency_key=key(), order_id=oid),
    )
    fault = {"operations": {"refund": {"mode": "fail_after", "times": 1}}}
    (await http.post("/admin/faults", json=fault)).raise_for_status()
    refund = RefundOrderInput(tenant_id="t", store_user_id=uid, idempotency_key=key(), order_id=oid)
    with pytest.raises(StoreUnavailable):
        await run(acts.refund_order, refund)  # committed, but the caller saw a 503
    await run(acts.refund_order, refund)  # Temporal's retry: same input, same key
    async with StoreClient(admin_store_url) as store:
        after = (await store.get_user(uid))["payment_methods"][card]["balance"]  # type: ignore[index]
    assert round(after - before, 2) == round(paid, 2)
    assert await events(http, oid) == ["hold", "refund"]


async def test_cancel_procedure_end_to_end_on_the_real_store_replays_without_doubling(
    acts: ActionActivities, http: httpx.AsyncClient, picker: Picker, seed: Doc
) -> None:
    """Procedure -> plan -> run_saga with the real activities; then the whole saga again with
    the same keys (a workflow replaying or retrying): nothing happens twice."""
    order = picker.take("pending", "credit_card")
    oid, uid = order["order_id"], order["user_id"]
    facts = await run(
        acts.load_case_facts, LoadCaseFactsInput(tenant_id="t", store_user_id=uid, order_id=oid)
    )
    policy = TenantPolicy()
    asked = step(
        None,
        u("cancel_order", order_ids=[oid], reason="ordered by mistake"),
        facts,
        policy=policy,
        now=NOW,
        new_case_id="wf-e2e/case/1",
    )
    go = step(asked.state, u("confirm"), facts, policy=policy, now=NOW, new_case_id="x", text="yes")
    assert go.plan is not None and go.state is not None
    plan, state = go.plan, go.state
    by_action = {
        "hold_order": acts.hold_order,
        "release_order": acts.release_order,
        "refund_order": acts.refund_order,
        "cancel_order": acts.cancel_order,
    }

    async def execute(s: ActionStep) -> ActionResult:
        inp = action_input(
            s,
            tenant_id="t",
            store_user_id=uid,
            workflow_id="wf-e2e",
            case_id=state.case_id,
            attempt=plan.attempt,
        )
        try:
            await run(by_action[s.action], inp)
        except ApplicationError as err:
            return ActionResult(status="rejected", detail=str(err))
        return ActionResult(status="ok")

    first = await run_saga(plan.steps, execute)
    again = await run_saga(plan.steps, execute)
    assert first.status == again.status == "completed"
    assert await events(http, oid) == ["hold", "refund", "cancel"]
    done = finish(state, plan, first, now=NOW)
    assert done.template == "cancel_done"
    after = await run(
        acts.load_case_facts, LoadCaseFactsInput(tenant_id="t", store_user_id=uid, order_id=oid)
    )
    assert after.order is not None and after.order.status == "cancelled"
    assert after.order.outstanding() == 0
    invariants = (await http.get("/admin/invariants")).json()["violations"]
    assert invariants == []


async def test_a_failed_refund_releases_the_hold(
    acts: ActionActivities, http: httpx.AsyncClient, picker: Picker
) -> None:
    order = picker.take("pending", "gift_card")
    oid, uid = order["order_id"], order["user_id"]
    steps = [
        ActionStep(
            name="hold",
            action="hold_order",
            args={"order_id": oid},
            compensation=ActionStep(name="release", action="release_order", args={"order_id": oid}),
        ),
        # More than was paid: the store refuses, permanently.
        ActionStep(
            name="refund",
            action="refund_order",
            args={"order_id": oid, "amount": 999_999.0},
            pivot=True,
        ),
    ]
    fns = {
        "hold_order": acts.hold_order,
        "release_order": acts.release_order,
        "refund_order": acts.refund_order,
    }

    async def execute(s: ActionStep) -> ActionResult:
        inp = action_input(
            s, tenant_id="t", store_user_id=uid, workflow_id="wf-c", case_id="c", attempt=1
        )
        try:
            await run(fns[s.action], inp)
        except ApplicationError as err:
            return ActionResult(status="rejected", detail=str(err))
        return ActionResult(status="ok")

    outcome = await run_saga(steps, execute)
    assert outcome.status == "compensated" and outcome.compensated == ["hold"]
    assert await events(http, oid) == ["hold", "release"]
    hold = (await http.get(f"/orders/{oid.replace('#', '%23')}/hold")).json()
    assert hold["held"] is False


async def test_modify_user_address_acts_on_the_identified_customer_only(
    acts: ActionActivities, http: httpx.AsyncClient, seed: Doc
) -> None:
    uid = sorted(seed["users"])[-1]
    inp = ModifyUserAddressInput(
        tenant_id="t", store_user_id=uid, idempotency_key=key(), address=ADDRESS
    )
    await run(acts.modify_user_address, inp)
    await run(acts.modify_user_address, inp)
    assert await events(http, uid) == ["modify_user_address"]
