"""The merchant's store connection: which backend agents use (API key). Never shows secrets:
only the names of the variables holding them (all in the tenant's own namespace) and whether
each is set on the server."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, status
from starlette.concurrency import run_in_threadpool

from supportflow.api.audit_trail import audit_change
from supportflow.api.deps import CanManageKeys, StateDep
from supportflow.api.schemas import Problem
from supportflow.store.connection import NoStoreConnection, StoreConnection, StoreConnectionError
from supportflow.store.connection_store import StoreConnectionStore

router = APIRouter(tags=["store"])


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No API key, or an unknown one."},
    422: {"model": Problem, "description": "The connection is invalid; nothing was changed."},
}


@router.get(
    "/v1/store-connection",
    responses={
        **_ERRORS,
        404: {"model": Problem, "description": "The tenant has no store connection."},
        409: {"model": Problem, "description": "The stored connection no longer validates."},
    },
)
async def get_store_connection(who: CanManageKeys, state: StateDep) -> dict[str, Any]:
    tenant_id = who.tenant_id
    store = StoreConnectionStore(state.sessions)
    demo_tenants = state.settings.demo_store_tenant_ids
    try:
        connection = await run_in_threadpool(store.effective, tenant_id, demo_tenants)
    except NoStoreConnection as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from err
    except StoreConnectionError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    return connection.public_view(tenant_id)


@router.put("/v1/store-connection", responses=_ERRORS)
async def put_store_connection(
    who: CanManageKeys, state: StateDep, doc: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Replace the connection; workers use it within SUPPORTFLOW_STORE_CONNECTION_TTL_SECONDS.
    Secrets' variables must be named ``SUPPORTFLOW_TENANT_<TENANT ID>_*``."""
    store = StoreConnectionStore(state.sessions)
    tenant_id = who.tenant_id
    try:
        connection = await run_in_threadpool(store.put, tenant_id, doc, check=_merchant_may_set)
    except StoreConnectionError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    await audit_change(state, who, "store_connection.update", target=tenant_id)
    return connection.public_view(tenant_id)


def _merchant_may_set(connection: StoreConnection) -> None:
    """The demo store, and endpoints other than a real shop and Stripe (a loopback stand-in),
    belong to the operator: a merchant pointing its agents there would act on data that is not
    its own, or on hosts of the operator's choosing."""
    custom = []
    if connection.backend == "demo":
        custom.append("backend demo")
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
