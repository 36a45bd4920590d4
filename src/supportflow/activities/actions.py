"""Activities of the `integrations` task queue that change the store, one per store write
(``store.actions.StoreAction``), plus the read that gives procedures their facts.

Every activity acts on the tenant's own store: ``ActionActivities(registry)`` asks the
``StoreRegistry`` for the port of ``inp.tenant_id`` (a bare demo ``StoreClient`` serves every
tenant, for tests and tools). Before a write it checks that the backend has the write's
capability (``store.actions.ACTIONS``): a backend without it is refused for good, before
anything is written.

Each write takes the idempotency key the workflow derived from workflow id + case + step
(``procedures.case.idempotency_key``), so a retried or replayed activity applies once. Before
writing it checks, next to the data, that the order is the customer's: a workflow bug cannot
act on someone else's order. Store refusals (rule broken, unknown record, not the customer's)
are permanent: ``ApplicationError(non_retryable=True)``; ``StoreUnavailable`` propagates so the
activity's retry policy backs off and tries again with the same key.

``write_activity`` binds each store action to its activity method and input model; workflow
code (``workflows.saga_steps``) calls the activities through it, by method reference.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import MethodType
from typing import Any, TypeVar, assert_never

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from supportflow.activities.audit_writes import audit_store_write
from supportflow.activities.contract import (
    NOT_CUSTOMERS_ORDER,
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
from supportflow.procedures.facts import CaseFacts, case_facts_from_store
from supportflow.store.actions import ACTIONS, StoreAction
from supportflow.store.adapters.demo_client import Doc, StoreClient
from supportflow.store.errors import StoreNotFound, StoreRejected
from supportflow.store.port import (
    ALL_CAPABILITIES,
    REFUND_APPLIED,
    Capability,
    StorePort,
    require,
)
from supportflow.store.registry import PortSource, port_source

T = TypeVar("T")
In = TypeVar("In", bound=ActionInput)


def _permanent(exc: Exception, kind: str) -> ApplicationError:
    return ApplicationError(str(exc), type=kind, non_retryable=True)


async def _call(coro: Awaitable[T]) -> T:
    try:
        return await coro
    except StoreNotFound as exc:
        raise _permanent(exc, "StoreNotFound") from exc
    except StoreRejected as exc:
        raise _permanent(exc, "StoreRejected") from exc


def _done(action: StoreAction, doc: Doc, entity_id: str) -> ActionDone:
    status = doc.get("status")
    applied = doc.get(REFUND_APPLIED) if action == StoreAction.REFUND_ORDER else None
    return ActionDone(
        action=ACTIONS[action].audit_name,
        entity_id=entity_id,
        status=str(status) if status is not None else None,
        amount=float(applied) if isinstance(applied, int | float) else None,
    )


class ActionActivities:
    def __init__(
        self, store: StoreClient | PortSource, sessions: sessionmaker[Session] | None = None
    ) -> None:
        self._ports = port_source(store)
        # The app database, for the audit entry of each write (none: writes are not audited).
        self._sessions = sessions

    async def _port(self, tenant_id: str, *needs: Capability) -> StorePort:
        port = await _call(self._ports.port_for(tenant_id))
        try:
            require(port, *needs)
        except StoreRejected as exc:
            raise _permanent(exc, "StoreRejected") from exc
        return port

    def all(self) -> list[Callable[..., Any]]:
        """Every activity here, for ``Worker(activities=...)``: the read, then one per write."""
        writes = (MethodType(write_activity(a).method, self) for a in StoreAction)
        return [self.load_case_facts, *writes]

    @activity.defn(name="load_case_facts")
    async def load_case_facts(self, inp: LoadCaseFactsInput) -> CaseFacts:
        store = await self._port(inp.tenant_id)
        user: Doc | None
        if not inp.account:
            # Only the order is shown: the account is known by its verified id alone.
            user = {"user_id": inp.store_user_id}
            order = await _call(store.get_order(inp.order_id)) if inp.order_id else None
        elif inp.order_id:
            # The user and the order at once: one round trip to the store, not two.
            user, order = await asyncio.gather(
                _call(store.get_user(inp.store_user_id)), _call(store.get_order(inp.order_id))
            )
        else:
            user, order = await _call(store.get_user(inp.store_user_id)), None
        if order is not None and (user is None or order.get("user_id") != user["user_id"]):
            order = None  # never confirm that someone else's order exists
        products: list[Doc] = []
        if order is not None and inp.products and Capability.GET_PRODUCT in store.capabilities:
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

    async def _order_write(
        self,
        action: StoreAction,
        inp: OrderActionInput,
        write: Callable[[StorePort], Awaitable[Doc]],
    ) -> ActionDone:
        """``write`` on the customer's own order, once the backend can do ``action``."""
        store = await self._owned(inp, ACTIONS[action].capability)
        done = _done(action, await _call(write(store)), inp.order_id)
        await audit_store_write(self._sessions, action, inp, done)
        return done

    @activity.defn(name=StoreAction.HOLD_ORDER.value)
    async def hold_order(self, inp: HoldOrderInput) -> ActionDone:
        return await self._order_write(
            StoreAction.HOLD_ORDER,
            inp,
            lambda store: store.hold_order(inp.order_id, inp.idempotency_key, reason=inp.reason),
        )

    @activity.defn(name=StoreAction.RELEASE_ORDER.value)
    async def release_order(self, inp: ReleaseOrderInput) -> ActionDone:
        return await self._order_write(
            StoreAction.RELEASE_ORDER,
            inp,
            lambda store: store.release_order(
                inp.order_id, inp.idempotency_key, hold_idempotency_key=inp.hold_idempotency_key
            ),
        )

    @activity.defn(name=StoreAction.REFUND_ORDER.value)
    async def refund_order(self, inp: RefundOrderInput) -> ActionDone:
        return await self._order_write(
            StoreAction.REFUND_ORDER,
            inp,
            lambda store: store.refund_order(
                inp.order_id,
                inp.idempotency_key,
                amount=inp.amount,
                payment_method_id=inp.payment_method_id,
            ),
        )

    @activity.defn(name=StoreAction.CANCEL_ORDER.value)
    async def cancel_order(self, inp: CancelOrderInput) -> ActionDone:
        return await self._order_write(
            StoreAction.CANCEL_ORDER,
            inp,
            lambda store: store.cancel_order(inp.order_id, inp.reason, inp.idempotency_key),
        )

    @activity.defn(name=StoreAction.MODIFY_ORDER_ADDRESS.value)
    async def modify_order_address(self, inp: ModifyOrderAddressInput) -> ActionDone:
        return await self._order_write(
            StoreAction.MODIFY_ORDER_ADDRESS,
            inp,
            lambda store: store.modify_order_address(
                inp.order_id, inp.address, inp.idempotency_key
            ),
        )

    @activity.defn(name=StoreAction.MODIFY_ORDER_PAYMENT.value)
    async def modify_order_payment(self, inp: ModifyOrderPaymentInput) -> ActionDone:
        return await self._order_write(
            StoreAction.MODIFY_ORDER_PAYMENT,
            inp,
            lambda store: store.modify_order_payment(
                inp.order_id, inp.payment_method_id, inp.idempotency_key
            ),
        )

    @activity.defn(name=StoreAction.MODIFY_ORDER_ITEMS.value)
    async def modify_order_items(self, inp: ModifyOrderItemsInput) -> ActionDone:
        return await self._order_write(
            StoreAction.MODIFY_ORDER_ITEMS,
            inp,
            lambda store: store.modify_order_items(
                inp.order_id,
                inp.item_ids,
                inp.new_item_ids,
                inp.payment_method_id,
                inp.idempotency_key,
            ),
        )

    @activity.defn(name=StoreAction.RETURN_ORDER_ITEMS.value)
    async def return_order_items(self, inp: ReturnOrderItemsInput) -> ActionDone:
        return await self._order_write(
            StoreAction.RETURN_ORDER_ITEMS,
            inp,
            lambda store: store.return_order_items(
                inp.order_id, inp.item_ids, inp.payment_method_id, inp.idempotency_key
            ),
        )

    @activity.defn(name=StoreAction.EXCHANGE_ORDER_ITEMS.value)
    async def exchange_order_items(self, inp: ExchangeOrderItemsInput) -> ActionDone:
        return await self._order_write(
            StoreAction.EXCHANGE_ORDER_ITEMS,
            inp,
            lambda store: store.exchange_order_items(
                inp.order_id,
                inp.item_ids,
                inp.new_item_ids,
                inp.payment_method_id,
                inp.idempotency_key,
            ),
        )

    @activity.defn(name=StoreAction.MODIFY_USER_ADDRESS.value)
    async def modify_user_address(self, inp: ModifyUserAddressInput) -> ActionDone:
        # The user written is always the customer the workflow identified: no other id given.
        action = StoreAction.MODIFY_USER_ADDRESS
        store = await self._port(inp.tenant_id, ACTIONS[action].capability)
        doc = await _call(
            store.modify_user_address(inp.store_user_id, inp.address, inp.idempotency_key)
        )
        done = _done(action, doc, inp.store_user_id)
        await audit_store_write(self._sessions, action, inp, done)
        return done


# -- each store write's activity ------------------------------------------------------------


@dataclass(frozen=True)
class WriteActivity:
    """The activity that performs one store write, and the model of its input. Its Temporal
    name is the action's value (``ACTIONS[action].activity_name``)."""

    method: Callable[[ActionActivities, Any], Awaitable[ActionDone]]
    input_model: type[ActionInput]


def _bind(
    method: Callable[[ActionActivities, In], Awaitable[ActionDone]], input_model: type[In]
) -> WriteActivity:
    # Generic on purpose: mypy checks that the method takes exactly this input model.
    return WriteActivity(method, input_model)


def write_activity(action: StoreAction) -> WriteActivity:
    """The activity of a store write; mypy flags an action without one (``assert_never``)."""
    match action:
        case StoreAction.HOLD_ORDER:
            return _bind(ActionActivities.hold_order, HoldOrderInput)
        case StoreAction.RELEASE_ORDER:
            return _bind(ActionActivities.release_order, ReleaseOrderInput)
        case StoreAction.REFUND_ORDER:
            return _bind(ActionActivities.refund_order, RefundOrderInput)
        case StoreAction.CANCEL_ORDER:
            return _bind(ActionActivities.cancel_order, CancelOrderInput)
        case StoreAction.MODIFY_ORDER_ADDRESS:
            return _bind(ActionActivities.modify_order_address, ModifyOrderAddressInput)
        case StoreAction.MODIFY_ORDER_PAYMENT:
            return _bind(ActionActivities.modify_order_payment, ModifyOrderPaymentInput)
        case StoreAction.MODIFY_ORDER_ITEMS:
            return _bind(ActionActivities.modify_order_items, ModifyOrderItemsInput)
        case StoreAction.RETURN_ORDER_ITEMS:
            return _bind(ActionActivities.return_order_items, ReturnOrderItemsInput)
        case StoreAction.EXCHANGE_ORDER_ITEMS:
            return _bind(ActionActivities.exchange_order_items, ExchangeOrderItemsInput)
        case StoreAction.MODIFY_USER_ADDRESS:
            return _bind(ActionActivities.modify_user_address, ModifyUserAddressInput)
        case _:
            assert_never(action)
