"""The unsubscribe link of a sales email (issue 14): ``GET`` shows a button, ``POST`` (the
button, or a mail client's RFC 8058 one-click) withdraws the customer's consent to sales
messages on that channel. Support answers are not affected. A link that is not ours: 404."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from supportflow.activities.channels import tenant_thread_secret
from supportflow.api.deps import StateDep
from supportflow.sales.consent import set_consent
from supportflow.sales.unsubscribe import read_token

router = APIRouter(tags=["sales"])

TenantPath = Annotated[str, Path(min_length=1, max_length=40)]
TokenPath = Annotated[str, Path(min_length=10, max_length=300)]


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<meta name='viewport' content='width=device-width'></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status_code,
    )


_UNKNOWN = ("Link not recognised", "<p>This unsubscribe link is not valid.</p>", 404)


@router.get("/v1/unsubscribe/{tenant_id}/{token}", response_class=HTMLResponse)
async def unsubscribe_page(
    tenant_id: TenantPath, token: TokenPath, state: StateDep
) -> HTMLResponse:
    secret = await run_in_threadpool(tenant_thread_secret, state.sessions, tenant_id)
    if read_token(secret, tenant_id, token) is None:
        return _page(*_UNKNOWN)
    return _page(
        "Unsubscribe",
        "<p>Stop offers and reminders from this store? Answers to your own questions are "
        "not affected.</p><form method='post'><button type='submit'>Unsubscribe</button></form>",
    )


@router.post("/v1/unsubscribe/{tenant_id}/{token}", response_class=HTMLResponse)
async def unsubscribe(tenant_id: TenantPath, token: TokenPath, state: StateDep) -> HTMLResponse:
    secret = await run_in_threadpool(tenant_thread_secret, state.sessions, tenant_id)
    read = read_token(secret, tenant_id, token)
    if read is None:
        return _page(*_UNKNOWN)
    user, channel = read
    await run_in_threadpool(
        lambda: set_consent(
            state.sessions,
            tenant_id,
            user,
            channel,  # type: ignore[arg-type]
            granted=False,
            source="unsubscribe",
        )
    )
    return _page("You're unsubscribed", "<p>You will get no more offers or reminders.</p>")
