"""``POST /v1/webhooks/store/{tenant_id}``: the tenant's store tells us what happened
(checkouts, orders, deliveries), signed as Shopify signs webhooks (api/store_events.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from pydantic import BaseModel

from supportflow.api.deps import StateDep
from supportflow.api.store_events import BadEvent, Forged, StoreEventIngestor, TemporalUnavailable

router = APIRouter(tags=["store webhooks"])

TenantPath = Annotated[str, Path(min_length=1, max_length=40)]


class StoreEventAck(BaseModel):
    event_id: str
    # What it did: "started:abandoned_checkout", "order:converted:reminder_stopped",
    # "ignored:guest", ...; a redelivery gets the first outcome with duplicate true.
    outcome: str
    duplicate: bool = False


@router.post(
    "/v1/webhooks/store/{tenant_id}",
    response_model=StoreEventAck,
    responses={
        401: {"description": "unknown tenant, no webhook secret, or a forged signature"},
        400: {"description": "no event id or topic, or a body that is not JSON"},
        422: {"description": "a signed event without what its topic needs"},
        503: {"description": "the agents cannot take it now; deliver it again later"},
    },
)
async def store_webhook(tenant_id: TenantPath, request: Request, state: StateDep) -> StoreEventAck:
    raw = await request.body()
    ingestor = StoreEventIngestor(
        sessions=state.sessions,
        keyring=state.keyring,
        temporal=state.temporal,
        settings=state.settings,
        stores=state.stores,
    )
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        done = await ingestor.receive(tenant_id, headers, raw)
    except Forged:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "invalid store webhook signature"
        ) from None
    except BadEvent as err:
        raise HTTPException(err.status, str(err)) from None
    except TemporalUnavailable:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the agents are unavailable; retry later"
        ) from None
    return StoreEventAck(event_id=done.event_id, outcome=done.outcome, duplicate=done.duplicate)
