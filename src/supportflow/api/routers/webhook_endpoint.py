"""The merchant's webhook endpoint (issue 16; docs/webhooks.md): where supportflow sends its
events (``conversation.needs_person``), signed with a secret supportflow makes. The secret is
shown once: in the answer that made the endpoint, and in each rotation's answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from supportflow.api.audit_trail import audit_change
from supportflow.api.deps import CanManageKeys, StateDep
from supportflow.api.schemas import Problem
from supportflow.webhooks import endpoints

router = APIRouter(tags=["webhooks"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No API key, or an unknown one."},
    403: {"model": Problem, "description": "The caller's role may not manage keys."},
}
_NONE: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "The tenant has no webhook endpoint."}
}


class EndpointIn(BaseModel):
    url: str = Field(
        max_length=endpoints.MAX_URL_LENGTH,
        description="https:// URL (plain http:// only to a loopback address).",
    )


class EndpointOut(BaseModel):
    tenant_id: str
    url: str
    created_at: str
    secret_changed_at: str
    # Only when this answer made it: store it now, it is never shown again.
    secret: str | None = None


class RotatedSecret(BaseModel):
    tenant_id: str
    secret: str


@router.get("/v1/webhook-endpoint", responses={**_ERRORS, **_NONE})
async def get_webhook_endpoint(who: CanManageKeys, state: StateDep) -> EndpointOut:
    found = await run_in_threadpool(endpoints.get_endpoint, state.sessions, who.tenant_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this tenant has no webhook endpoint")
    return EndpointOut(**found.public_view())


@router.put(
    "/v1/webhook-endpoint",
    responses={
        **_ERRORS,
        422: {"model": Problem, "description": "The URL is refused; nothing was changed."},
    },
)
async def put_webhook_endpoint(
    who: CanManageKeys, state: StateDep, body: EndpointIn
) -> EndpointOut:
    """Set the endpoint's URL. The first time, the answer carries the signing secret (shown
    once); later calls change the URL and keep the secret."""
    try:
        made = await run_in_threadpool(
            endpoints.set_endpoint,
            state.sessions,
            state.keyring,
            who.tenant_id,
            body.url,
            allow_http=state.settings.outbound_webhook_allow_http,
        )
    except endpoints.InvalidWebhookUrl as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    # The URL is the merchant's own setting: recorded, the secret never.
    await audit_change(
        state,
        who,
        "webhook_endpoint.create" if made.secret is not None else "webhook_endpoint.update",
        target=who.tenant_id,
        details={"url": made.endpoint.url},
    )
    return EndpointOut(**made.endpoint.public_view(), secret=made.secret)


@router.post("/v1/webhook-endpoint/rotate-secret", responses={**_ERRORS, **_NONE})
async def rotate_webhook_secret(who: CanManageKeys, state: StateDep) -> RotatedSecret:
    """A new signing secret (shown once), used from the next delivery on; the old one stops."""
    try:
        secret = await run_in_threadpool(
            endpoints.rotate_secret, state.sessions, state.keyring, who.tenant_id
        )
    except endpoints.NoWebhookEndpoint as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from err
    await audit_change(state, who, "webhook_endpoint.rotate_secret", target=who.tenant_id)
    return RotatedSecret(tenant_id=who.tenant_id, secret=secret)


@router.delete(
    "/v1/webhook-endpoint",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_ERRORS, **_NONE},
)
async def delete_webhook_endpoint(who: CanManageKeys, state: StateDep) -> Response:
    """Remove the endpoint; events not yet delivered to it are given up."""
    deleted = await run_in_threadpool(endpoints.delete_endpoint, state.sessions, who.tenant_id)
    if not deleted:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this tenant has no webhook endpoint")
    await audit_change(state, who, "webhook_endpoint.delete", target=who.tenant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
