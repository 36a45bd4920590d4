"""/admin: test-only controls (faults) and inspection (events, invariants).

Mounted only when the app is created with admin enabled; never expose it in production.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from supportflow.demo_store.db import read_transaction
from supportflow.demo_store.faults import FaultInjector, FaultSettings
from supportflow.demo_store.invariants import check
from supportflow.demo_store.repository import StoreRepository
from supportflow.demo_store.routes.common import engine_of
from supportflow.demo_store.webhooks import outbox

router = APIRouter(prefix="/admin", tags=["admin"])


def _injector(request: Request) -> FaultInjector:
    injector: FaultInjector = request.app.state.faults
    return injector


# async: the injector lives on the event loop with the middleware that reads it.
@router.get("/faults", name="admin_get_faults")
async def get_faults(request: Request) -> dict[str, Any]:
    return _injector(request).state()


@router.post("/faults", name="admin_set_faults")
async def set_faults(request: Request, settings: FaultSettings) -> dict[str, Any]:
    injector = _injector(request)
    injector.configure(settings)
    return injector.state()


@router.delete("/faults", name="admin_reset_faults")
async def reset_faults(request: Request) -> dict[str, Any]:
    injector = _injector(request)
    injector.configure(FaultSettings())
    return injector.state()


@router.get("/events", name="admin_events")
def list_events(
    request: Request,
    entity_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Applied writes, newest first: one row per effect, so callers can count effects."""
    with read_transaction(engine_of(request)) as conn:
        return {"events": StoreRepository(conn).list_events(entity_id, limit)}


@router.get("/invariants", name="admin_invariants")
def invariants(request: Request) -> dict[str, Any]:
    return {"violations": [v.as_dict() for v in check(engine_of(request))]}


@router.get("/webhooks", name="admin_webhooks")
def list_webhooks(
    request: Request,
    topic: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> dict[str, Any]:
    """Outgoing webhooks, oldest first: status (pending, delivered, failed), attempts, the
    last answer, and the payload sent."""
    with read_transaction(engine_of(request)) as conn:
        rows = outbox.list_deliveries(conn, topic=topic, status=status, limit=limit)
    return {"deliveries": rows}
