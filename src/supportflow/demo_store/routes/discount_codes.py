"""/discount_codes: create one (the store picks a readable code when none is given) and read
one with its usage. Creating takes an Idempotency-Key: the same key gives the same code."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from supportflow.demo_store import discounts
from supportflow.demo_store.db import read_transaction
from supportflow.demo_store.models import DiscountBody
from supportflow.demo_store.repository import StoreRepository
from supportflow.demo_store.routes.common import IdempotencyKey, engine_of, run_write

router = APIRouter(prefix="/discount_codes", tags=["discount codes"])


@router.post("", name="create_discount_code", status_code=201)
def create_discount_code(
    request: Request, body: DiscountBody, key: IdempotencyKey = None
) -> JSONResponse:
    """201 with the code; 422 for a value out of range, a past expiry, an unknown or
    cancelled order; 409 when the code given exists already."""
    return run_write(
        request,
        operation="create_discount_code",
        target=discounts.normalize_code(body.code) if body.code else "new",
        body=body,
        key=key,
        apply=lambda repo: discounts.create_discount(repo, body, now=discounts.utc_datetime_now()),
        success_status=201,
    )


@router.get("/{code}", name="get_discount_code")
def get_discount_code(request: Request, code: str) -> dict[str, Any]:
    with read_transaction(engine_of(request)) as conn:
        return discounts.get_discount(StoreRepository(conn), code, now=discounts.utc_datetime_now())
