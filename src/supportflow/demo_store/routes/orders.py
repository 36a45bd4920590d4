"""/orders: read an order, and every write a support agent may make on one.

Order ids start with '#', which must be URL-encoded (/orders/%23W2611340); the bare form
(/orders/W2611340) is accepted too.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from supportflow.demo_store import fulfilment, operations
from supportflow.demo_store.db import read_transaction
from supportflow.demo_store.models import (
    AddressBody,
    CancelBody,
    HoldBody,
    ItemsChangeBody,
    PaymentBody,
    RefundBody,
    ReleaseBody,
    ReturnBody,
)
from supportflow.demo_store.repository import StoreRepository
from supportflow.demo_store.routes.common import (
    IdempotencyKey,
    engine_of,
    normalize_order_id,
    run_write,
)
from supportflow.store.errors import StoreNotFound

router = APIRouter(prefix="/orders", tags=["orders"])


@router.get("/{order_id}", name="get_order")
def get_order(request: Request, order_id: str) -> dict[str, Any]:
    order_id = normalize_order_id(order_id)
    with read_transaction(engine_of(request)) as conn:
        order = StoreRepository(conn).get_order(order_id)
    if order is None:
        raise StoreNotFound(f"order {order_id} not found")
    return order


@router.get("/{order_id}/hold", name="get_hold")
def get_hold(request: Request, order_id: str) -> dict[str, Any]:
    with read_transaction(engine_of(request)) as conn:
        return operations.hold_status(StoreRepository(conn), normalize_order_id(order_id))


@router.post("/{order_id}/cancel", name="cancel")
def cancel(
    request: Request, order_id: str, body: CancelBody, key: IdempotencyKey = None
) -> JSONResponse:
    """Cancel a pending order; refund what is outstanding to the original methods."""
    oid = normalize_order_id(order_id)
    return run_write(
        request,
        operation="cancel",
        target=oid,
        body=body,
        key=key,
        apply=lambda repo: operations.cancel_order(repo, oid, body.reason),
    )


@router.post("/{order_id}/address", name="modify_address")
def modify_address(
    request: Request, order_id: str, body: AddressBody, key: IdempotencyKey = None
) -> JSONResponse:
    oid = normalize_order_id(order_id)
    return run_write(
        request,
        operation="modify_address",
        target=oid,
        body=body,
        key=key,
        apply=lambda repo: operations.modify_order_address(repo, oid, body.as_doc()),
    )


@router.post("/{order_id}/payment", name="modify_payment")
def modify_payment(
    request: Request, order_id: str, body: PaymentBody, key: IdempotencyKey = None
) -> JSONResponse:
    oid = normalize_order_id(order_id)
    return run_write(
        request,
        operation="modify_payment",
        target=oid,
        body=body,
        key=key,
        apply=lambda repo: operations.modify_order_payment(repo, oid, body.payment_method_id),
    )


@router.post("/{order_id}/items", name="modify_items")
def modify_items(
    request: Request, order_id: str, body: ItemsChangeBody, key: IdempotencyKey = None
) -> JSONResponse:
    oid = normalize_order_id(order_id)
    return run_write(
        request,
        operation="modify_items",
        target=oid,
        body=body,
        key=key,
        apply=lambda repo: operations.modify_order_items(
            repo, oid, body.item_ids, body.new_item_ids, body.payment_method_id
        ),
    )


@router.post("/{order_id}/return", name="return")
def return_items(
    request: Request, order_id: str, body: ReturnBody, key: IdempotencyKey = None
) -> JSONResponse:
    oid = normalize_order_id(order_id)
    return run_write(
        request,
        operation="return",
        target=oid,
        body=body,
        key=key,
        apply=lambda repo: operations.return_order_items(
            repo, oid, body.item_ids, body.payment_method_id
        ),
    )


@router.post("/{order_id}/exchange", name="exchange")
def exchange_items(
    request: Request, order_id: str, body: ItemsChangeBody, key: IdempotencyKey = None
) -> JSONResponse:
    oid = normalize_order_id(order_id)
    return run_write(
        request,
        operation="exchange",
        target=oid,
        body=body,
        key=key,
        apply=lambda repo: operations.exchange_order_items(
            repo, oid, body.item_ids, body.new_item_ids, body.payment_method_id
        ),
    )


# Cancel saga, step by step: hold (compensate: release) -> refund (irreversible) -> cancel.


@router.post("/{order_id}/hold", name="hold")
def hold(
    request: Request, order_id: str, body: HoldBody | None = None, key: IdempotencyKey = None
) -> JSONResponse:
    oid = normalize_order_id(order_id)
    reason = body.reason if body is not None else None
    return run_write(
        request,
        operation="hold",
        target=oid,
        body=body,
        key=key,
        apply=lambda repo: operations.hold_order(repo, oid, reason),
    )


@router.post("/{order_id}/release", name="release")
def release(
    request: Request, order_id: str, body: ReleaseBody | None = None, key: IdempotencyKey = None
) -> JSONResponse:
    oid = normalize_order_id(order_id)
    hold_key = body.hold_idempotency_key if body is not None else None
    return run_write(
        request,
        operation="release",
        target=oid,
        body=body,
        key=key,
        apply=lambda repo: operations.release_order(repo, oid, hold_key),
    )


@router.post("/{order_id}/refund", name="refund")
def refund(
    request: Request, order_id: str, body: RefundBody | None = None, key: IdempotencyKey = None
) -> JSONResponse:
    oid = normalize_order_id(order_id)
    amount = body.amount if body is not None else None
    method = body.payment_method_id if body is not None else None
    return run_write(
        request,
        operation="refund",
        target=oid,
        body=body,
        key=key,
        apply=lambda repo: operations.refund_order(repo, oid, amount, method),
    )


# Sales (issue 14): the carrier's part, so tests and the simulator can see an order delivered.


@router.post("/{order_id}/deliver", name="deliver")
def deliver(request: Request, order_id: str, key: IdempotencyKey = None) -> JSONResponse:
    """Mark a pending or processed order delivered (tracking number added if it had none);
    sends fulfillments/update."""
    oid = normalize_order_id(order_id)
    return run_write(
        request,
        operation="deliver",
        target=oid,
        body=None,
        key=key,
        apply=lambda repo: fulfilment.deliver_order(repo, oid),
    )
