"""The merchant's store connection: which backend agents use (API key). Never shows secrets:
only the names of the variables holding them and whether each is set on the server."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, status
from starlette.concurrency import run_in_threadpool

from supportflow.api.deps import MerchantTenant, StateDep
from supportflow.store.connection import StoreConnection, StoreConnectionError
from supportflow.store.connection_store import StoreConnectionStore

router = APIRouter(tags=["store"])


@router.get("/v1/store-connection")
async def get_store_connection(tenant_id: MerchantTenant, state: StateDep) -> dict[str, Any]:
    try:
        connection = await run_in_threadpool(StoreConnectionStore(state.sessions).get, tenant_id)
    except StoreConnectionError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    return connection.public_view()


@router.put("/v1/store-connection")
async def put_store_connection(
    tenant_id: MerchantTenant, state: StateDep, doc: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Replace the connection; workers use it within SUPPORTFLOW_STORE_CONNECTION_TTL_SECONDS."""
    store = StoreConnectionStore(state.sessions)
    try:
        connection = await run_in_threadpool(store.put, tenant_id, doc, check=_merchant_may_set)
    except StoreConnectionError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    return connection.public_view()


def _merchant_may_set(connection: StoreConnection) -> None:
    """Endpoints other than a real shop and Stripe (a demo store URL, a loopback stand-in)
    would point the workers at hosts of the operator's choosing only: not for merchants."""
    custom = []
    if connection.store_url is not None:
        custom.append("store_url")
    if connection.shop is not None and connection.shop.startswith("http"):
        custom.append("shop")
    if connection.stripe is not None and connection.stripe.api_base != "https://api.stripe.com":
        custom.append("stripe.api_base")
    if custom:
        raise StoreConnectionError(
            f"invalid store connection: {', '.join(custom)} can only be set by the operator "
            "(supportflow tenants store set)"
        )
