"""Activities of the `integrations` task queue that change the store, one per store write,
plus the read that gives procedures their facts.

Every activity acts on the tenant's own store: ``ActionActivities(registry)`` asks the
``StoreRegistry`` for the port of ``inp.tenant_id`` (a bare demo ``StoreClient`` serves every
tenant, for tests and tools). Before a write it checks that the backend has the operation
(``Capability``): a backend without it is refused for good, before anything is written.

Each write takes the idempotency key the workflow derived from workflow id + case + step
(``procedures.case.idempotency_key``), so a retried or replayed activity applies once. Before
writing it checks, next to the data, that the order is the customer's: a workflow bug cannot
act on someone else's order. Store refusals (rule broken, unknown record, not the customer's)
are permanent: ``ApplicationError(non_retryable=True)``; ``StoreUnavailable`` propagates so the
activity's retry policy backs off and tries again with the same key.

``ActionExecutor`` is the other half, for workflow code: it turns a saga step into the
activity call and the activity's fate into an ``ActionResult`` for ``run_saga``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from supportflow.activities.contract import (
    ActionDone,
    ActionInput,
    CancelOrderInput,
    ExchangeOrderItemsInput,
    HoldOrderInput,
    LoadCaseFactsInput,
    ModifyOrderAddressInput,
    ModifyOrderItemsInput,
    ModifyOrderPaymentInput,
    ModifyUserAddressInput,
    OrderActionInput,
    RefundOrderInput,
    ReleaseOrderInput,
    ReturnOrderItemsInput,
)
from supportflow.procedures.case import ActionStep, StoreAction, idempotency_key
from supportflow.procedures.facts import CaseFacts, case_facts_from_store
from supportflow.procedures.saga import UNDO_SUFFIX, ActionResult
from supportflow.store.client import Doc, StoreClient
from supportflow.store.errors import StoreNotFound, StoreRejected
from supportflow.store.port import ALL_CAPABILITIES, Capability, StorePort, require
from supportflow.store.registry import PortSource, port_source

NOT_CUSTOMERS_ORDER = "NotCustomersOrder"
PERMANENT_ERRORS = ["StoreRejected", "StoreNotFound", NOT_CUSTOMERS_ORDER]

INPUT_MODELS: dict[StoreAction, type[ActionInput]] = {
    "hold_order": HoldOrderInput,
    "release_order": ReleaseOrderInput,
    "refund_order": RefundOrderInput,
    "cancel_order": CancelOrderInput,
    "modify_order_address": ModifyOrderAddressInput,
    "modify_order_payment": ModifyOrderPaymentInput,
    "modify_order_items": ModifyOrderItemsInput,
    "return_order_items": ReturnOrderItemsInput,
    "exchange_order_items": ExchangeOrderItemsInput,
    "modify_user_address": ModifyUserAddressInput,
}

T = TypeVar("T")


def action_input(
    step: ActionStep,
    *,
    tenant_id: str,
    store_user_id: str,
    workflow_id: str,
    case_id: str,
    attempt: int,
) -> ActionInput:
    """The activity input of a saga step; the key is stable across retries and replays."""
    extra: dict[str, str] = {}
    if step.action == "release_order" and step.name.endswith(UNDO_SUFFIX):
        # A hold's compensation names the hold's key, so a hold still in flight is refused.
        undone = step.name.removesuffix(UNDO_SUFFIX)
        extra["hold_idempotency_key"] = idempotency_key(
            workflow_id, case_id, f"a{attempt}.{undone}"
        )
    return INPUT_MODELS[step.action].model_validate(
        {
            **step.args,
            **extra,
            "tenant_id": tenant_id,
            "store_user_id": store_user_id,
            "idempotency_key": idempotency_key(workflow_id, case_id, f"a{attempt}.{step.name}"),
        }
    )


def _permanent(exc: Exception, kind: str) -> ApplicationError:
    return ApplicationError(str(exc), type=kind, non_retryable=True)


async def _call(coro: Awaitable[T]) -> T:
    try:
        return await coro
    except StoreNotFound as exc:
        raise _permanent(exc, "StoreNotFound") from exc
    except StoreRejected as exc:
        raise _permanent(exc, "StoreRejected") from exc


def _done(action: str, doc: Doc, entity_id: str) -> ActionDone:
    status = doc.get("status")
    return ActionDone(
        action=action, entity_id=entity_id, status=str(status) if status is not None else None
    )


class ActionActivities:
    def __init__(self, store: StoreClient | PortSource) -> None:
        self._ports = port_source(store)

    async def _port(self, tenant_id: str, *needs: Capability) -> StorePort:
        port = await _call(self._ports.port_for(tenant_id))
        try:
            require(port, *needs)
        except StoreRejected as exc:
            raise _permanent(exc, "StoreRejected") from exc
        return port

    def all(self) -> list[Callable[..., Any]]:
        """Every activity here, for ``Worker(activities=...)``."""
        return [
            self.load_case_facts,
            self.hold_order,
            self.release_order,
            self.refund_order,
            self.cancel_order,
            self.modify_order_address,
            self.modify_order_payment,
            self.modify_order_items,
            self.return_order_items,
            self.exchange_order_items,
            self.modify_user_address,
        ]

    @activity.defn(name="load_case_facts")
    async def load_case_facts(self, inp: LoadCaseFactsInput) -> CaseFacts:
        store = await self._port(inp.tenant_id)
        user = await _call(store.get_user(inp.store_user_id))
        order = await _call(store.get_order(inp.order_id)) if inp.order_id else None
        if order is not None and (user is None or order.get("user_id") != user["user_id"]):
            order = None  # never confirm that someone else's order exists
        products: list[Doc] = []
        if order is not None and Capability.GET_PRODUCT in store.capabilities:
            # At once, not one after another: a slow store would otherwise push the whole
            # read past its timeout, and it is retried as a whole.
            ids = dict.fromkeys(str(i["product_id"]) for i in order["items"])
            found = await asyncio.gather(*(_call(store.get_product(pid)) for pid in ids))
            products = [p for p in found if p is not None]
        facts = case_facts_from_store(user, order, products, order_id_requested=inp.order_id)
        if store.capabilities != ALL_CAPABILITIES:
            # Only a backend that lacks something says so: the demo store's facts stay as
            # they were recorded before backends were per tenant.
            facts = facts.model_copy(
                update={"capabilities": sorted(c.value for c in store.capabilities)}
            )
        return facts

    async def _owned(self, inp: OrderActionInput, needs: Capability) -> StorePort:
        """The tenant's port, once the backend can do ``needs`` and the order is the
        customer's."""
        store = await self._port(inp.tenant_id, needs)
        order = await _call(store.get_order(inp.order_id))
        if order is None:
            raise ApplicationError(
                f"order {inp.order_id} not found", type="StoreNotFound", non_retryable=True
            )
        if order.get("user_id") != inp.store_user_id:
            raise ApplicationError(
                f"order {inp.order_id} does not belong to this customer",
                type=NOT_CUSTOMERS_ORDER,
                non_retryable=True,
            )
        return store

    @activity.defn(name="hold_order")
    async def hold_order(self, inp: HoldOrderInput) -> ActionDone:
        store = await self._owned(inp, Capability.HOLD_ORDER)
        doc = await _call(store.hold_order(inp.order_id, inp.idempotency_key, reason=inp.reason))
        return _done("hold_order", doc, inp.order_id)

    @activity.defn(name="release_order")
    async def release_order(self, inp: ReleaseOrderInput) -> ActionDone:
        store = await self._owned(inp, Capability.RELEASE_ORDER)
        doc = await _call(
            store.release_order(
                inp.order_id, inp.idempotency_key, hold_idempotency_key=inp.hold_idempotency_key
            )
        )
        return _done("release_order", doc, inp.order_id)

    @activity.defn(name="refund_order")
    async def refund_order(self, inp: RefundOrderInput) -> ActionDone:
        store = await self._owned(inp, Capability.REFUND_ORDER)
        doc = await _call(
            store.refund_order(
                inp.order_id,
                inp.idempotency_key,
                amount=inp.amount,
                payment_method_id=inp.payment_method_id,
            )
        )
        return _done("refund_order", doc, inp.order_id)

    @activity.defn(name="cancel_order")
    async def cancel_order(self, inp: CancelOrderInput) -> ActionDone:
        store = await self._owned(inp, Capability.CANCEL_ORDER)
        doc = await _call(store.cancel_order(inp.order_id, inp.reason, inp.idempotency_key))
        return _done("cancel_order", doc, inp.order_id)

    @activity.defn(name="modify_order_address")
    async def modify_order_address(self, inp: ModifyOrderAddressInput) -> ActionDone:
        store = await self._owned(inp, Capability.MODIFY_ORDER_ADDRESS)
        doc = await _call(
            store.modify_order_address(inp.order_id, inp.address, inp.idempotency_key)
        )
        return _done("modify_order_address", doc, inp.order_id)

    @activity.defn(name="modify_order_payment")
    async def modify_order_payment(self, inp: ModifyOrderPaymentInput) -> ActionDone:
        store = await self._owned(inp, Capability.MODIFY_ORDER_PAYMENT)
        doc = await _call(
            store.modify_order_payment(inp.order_id, inp.payment_method_id, inp.idempotency_key)
        )
        return _done("modify_order_payment", doc, inp.order_id)

    @activity.defn(name="modify_order_items")
    async def modify_order_items(self, inp: ModifyOrderItemsInput) -> ActionDone:
        store = await self._owned(inp, Capability.MODIFY_ORDER_ITEMS)
        doc = await _call(
            store.modify_order_items(
                inp.order_id,
                inp.item_ids,
                inp.new_item_ids,
                inp.payment_method_id,
                inp.idempotency_key,
            )
        )
        return _done("modify_order_items", doc, inp.order_id)

    @activity.defn(name="return_order_items")
    async def return_order_items(self, inp: ReturnOrderItemsInput) -> ActionDone:
        store = await self._owned(inp, Capability.RETURN_ORDER_ITEMS)
        doc = await _call(
            store.return_order_items(
                inp.order_id, inp.item_ids, inp.payment_method_id, inp.idempotency_key
            )
        )
        return _done("return_order_items", doc, inp.order_id)

    @activity.defn(name="exchange_order_items")
    async def exchange_order_items(self, inp: ExchangeOrderItemsInput) -> ActionDone:
        store = await self._owned(inp, Capability.EXCHANGE_ORDER_ITEMS)
        doc = await _call(
            store.exchange_order_items(
                inp.order_id,
                inp.item_ids,
                inp.new_item_ids,
                inp.payment_method_id,
                inp.idempotency_key,
            )
        )
        return _done("exchange_order_items", doc, inp.order_id)

    @activity.defn(name="modify_user_address")
    async def modify_user_address(self, inp: ModifyUserAddressInput) -> ActionDone:
        # The user written is always the customer the workflow identified: no other id given.
        store = await self._port(inp.tenant_id, Capability.MODIFY_USER_ADDRESS)
        doc = await _call(
            store.modify_user_address(inp.store_user_id, inp.address, inp.idempotency_key)
        )
        return _done("modify_user_address", doc, inp.store_user_id)


# -- for workflow code ----------------------------------------------------------------------

_DEFAULT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=PERMANENT_ERRORS,
)


@dataclass(frozen=True)
class ActionExecutor:
    """``run_saga``'s executor inside a workflow: one activity per step, retried with backoff
    until ``patience`` runs out (then "unavailable"); permanent errors are "rejected"."""

    tenant_id: str
    store_user_id: str
    workflow_id: str
    case_id: str
    attempt: int
    task_queue: str
    timeout: timedelta = timedelta(seconds=10)
    patience: timedelta = timedelta(minutes=5)
    retry_policy: RetryPolicy = field(default_factory=lambda: _DEFAULT_RETRY)

    async def execute(self, step: ActionStep) -> ActionResult:
        inp = action_input(
            step,
            tenant_id=self.tenant_id,
            store_user_id=self.store_user_id,
            workflow_id=self.workflow_id,
            case_id=self.case_id,
            attempt=self.attempt,
        )
        try:
            done = await workflow.execute_activity(
                step.action,
                inp,
                result_type=ActionDone,
                task_queue=self.task_queue,
                start_to_close_timeout=self.timeout,
                schedule_to_close_timeout=self.patience,
                retry_policy=self.retry_policy,
            )
        except ActivityError as err:
            return result_for_error(err)
        return ActionResult(status="ok", data=done.model_dump())


def result_for_error(err: ActivityError) -> ActionResult:
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.non_retryable:
        return ActionResult(status="rejected", detail=f"{cause.type}: {cause.message}")
    return ActionResult(status="unavailable", detail=str(cause or err))
