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
    """Exactly one way to look up: email, or first_name + last_name + zip, or phone."""
    by_name = (first_name, last_name, zip)
    modes = [email is not None, any(v is not None for v in by_name), phone is not None]
    if sum(modes) != 1 or (modes[1] and not all(v is not None for v in by_name)):
        raise StoreRejected(
            "give exactly one of: email; first_name + last_name + zip; phone", status_code=422
        )
    with read_transaction(engine_of(request)) as conn:
        repo = StoreRepository(conn)
        if email is not None:
            return {"users": repo.find_users_by_email(email)}
        if phone is not None:
            normalized = normalize_phone(phone)
            return {"users": repo.find_users_by_phone(normalized) if normalized else []}
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
