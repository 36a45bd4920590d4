"""/users: read a customer, find one for identification, change the default address."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from supportflow.demo_store import operations
from supportflow.demo_store.db import read_transaction
from supportflow.demo_store.identity import normalize_phone
from supportflow.demo_store.models import AddressBody
from supportflow.demo_store.repository import StoreRepository
from supportflow.demo_store.routes.common import IdempotencyKey, engine_of, run_write
from supportflow.store.errors import StoreNotFound, StoreRejected

router = APIRouter(prefix="/users", tags=["users"])

OptionalQuery = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get("", name="find_users")
def find_users(
    request: Request,
    email: OptionalQuery = None,
    first_name: OptionalQuery = None,
    last_name: OptionalQuery = None,
    zip: OptionalQuery = None,
    phone: OptionalQuery = None,
) -> dict[str, Any]:
    """Exactly one way to look up: email, or first_name + last_name + zip, or phone (any
    common writing of it; a US number without ``+1``; not a valid number: 422)."""
    by_name = (first_name, last_name, zip)
    modes = [email is not None, any(v is not None for v in by_name), phone is not None]
    if sum(modes) != 1 or (modes[1] and not all(v is not None for v in by_name)):
        raise StoreRejected(
            "give exactly one of: email; first_name + last_name + zip; phone", status_code=422
        )
    e164 = _e164(phone) if phone is not None else None
    with read_transaction(engine_of(request)) as conn:
        repo = StoreRepository(conn)
        if email is not None:
            return {"users": repo.find_users_by_email(email)}
        if e164 is not None:
            return {"users": repo.find_users_by_phone(e164)}
        assert first_name is not None and last_name is not None and zip is not None
        return {"users": repo.find_users_by_name_zip(first_name, last_name, zip)}


@router.get("/{user_id}", name="get_user")
def get_user(request: Request, user_id: str) -> dict[str, Any]:
    with read_transaction(engine_of(request)) as conn:
        user = StoreRepository(conn).get_user(user_id)
    if user is None:
        raise StoreNotFound(f"user {user_id} not found")
    return user


@router.post("/{user_id}/address", name="modify_user_address")
def modify_user_address(
    request: Request, user_id: str, body: AddressBody, key: IdempotencyKey = None
) -> JSONResponse:
    return run_write(
        request,
        operation="modify_user_address",
        target=user_id,
        body=body,
        key=key,
        apply=lambda repo: operations.modify_user_address(repo, user_id, body.as_doc()),
    )


def _e164(phone: str) -> str:
    normalized = normalize_phone(phone)
    if normalized is None:
        # The number is not echoed back: error bodies may end up in logs.
        raise StoreRejected(
            "phone: not a valid phone number; give it in E.164 form (+12015550123) "
            "or as a US number without extension",
            status_code=422,
        )
    return normalized
