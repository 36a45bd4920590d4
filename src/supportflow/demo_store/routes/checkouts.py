"""/checkouts: create a checkout (a cart with contact and consent), read it, and complete it,
which places the order. Writes take an Idempotency-Key like every store write."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from supportflow.demo_store import checkouts
from supportflow.demo_store.db import read_transaction
from supportflow.demo_store.discounts import utc_datetime_now
from supportflow.demo_store.models import CheckoutBody, CompleteBody
from supportflow.demo_store.repository import StoreRepository
from supportflow.demo_store.routes.common import IdempotencyKey, engine_of, run_write

router = APIRouter(prefix="/checkouts", tags=["checkouts"])


@router.post("", name="create_checkout", status_code=201)
def create_checkout(
    request: Request, body: CheckoutBody, key: IdempotencyKey = None
) -> JSONResponse:
    """201 with the checkout; 422 for an unknown user, a missing or unavailable item, an
    invalid phone or discount code."""
    return run_write(
        request,
        operation="create_checkout",
        target=body.user_id,
        body=body,
        key=key,
        apply=lambda repo: checkouts.create_checkout(repo, body, now=utc_datetime_now()),
        success_status=201,
    )


@router.get("/{checkout_id}", name="get_checkout")
def get_checkout(request: Request, checkout_id: str) -> dict[str, Any]:
    with read_transaction(engine_of(request)) as conn:
        return checkouts.get_checkout(StoreRepository(conn), checkout_id)


@router.post("/{checkout_id}/complete", name="complete_checkout")
def complete_checkout(
    request: Request, checkout_id: str, body: CompleteBody, key: IdempotencyKey = None
) -> JSONResponse:
    """Place the order (returned). Completed before: 409 (the same key replays the first
    answer instead). Invalid discount code: 422. Gift card short or a stranger's payment
    method: 409. Nothing changes on a refusal."""
    return run_write(
        request,
        operation="complete_checkout",
        target=checkout_id,
        body=body,
        key=key,
        apply=lambda repo: checkouts.complete_checkout(
            repo, checkout_id, body, now=utc_datetime_now()
        ),
    )
