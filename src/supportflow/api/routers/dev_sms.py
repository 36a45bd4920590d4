"""/dev/sms: the text messages the demo tenant sent, as `/dev/mail` lists mail.

Only in `up` (Settings.dev_endpoints) and only for the demo tenant's API key (404 for any
other, as if the page did not exist). It reads them the way one reads them from Twilio:
``GET /2010-04-01/Accounts/{sid}/Messages.json`` with the tenant's account, here answered by
the local stand-in `up` runs (channels/sms/fake_twilio.py). JSON, newest first.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from supportflow.api.deps import StateDep, merchant_tenant
from supportflow.channels.sms.sender import twilio_http_client
from supportflow.tenants.channels import channel_config

router = APIRouter(tags=["dev"])

_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class DevSms(BaseModel):
    sid: str
    to: str
    sender: str
    body: str
    status: str
    num_segments: str | None = None
    date_created: str | None = None


@router.get("/dev/sms", response_model=list[DevSms])
async def dev_sms(
    state: StateDep,
    x_api_key: Annotated[str | None, Header()] = None,
    to: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JSONResponse:
    tenant_id = await merchant_tenant(state, x_api_key)  # 401 for no key or a wrong one
    if not state.settings.demo_tenant_id or tenant_id != state.settings.demo_tenant_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")
    config = await run_in_threadpool(channel_config, state.sessions, state.keyring, tenant_id)
    base = state.settings.twilio_api_base_url
    if config is None or not (base and config.twilio_account_sid and config.twilio_auth_token):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the demo tenant has no SMS set up")
    params: dict[str, Any] = {"PageSize": limit}
    if to:
        params["To"] = to
    async with twilio_http_client(5.0) as http:
        r = await http.get(
            f"{base.rstrip('/')}/2010-04-01/Accounts/{config.twilio_account_sid}/Messages.json",
            params=params,
            auth=(config.twilio_account_sid, config.twilio_auth_token),
        )
    if r.status_code != 200:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, f"the SMS service answered {r.status_code}"
        )
    found = [
        DevSms(
            sid=m["sid"],
            to=m["to"],
            sender=m["from"],
            body=m["body"],
            status=m["status"],
            num_segments=m.get("num_segments"),
            date_created=m.get("date_created"),
        )
        for m in r.json().get("messages", [])
    ]
    return JSONResponse([m.model_dump() for m in found], headers=_PRIVATE)
