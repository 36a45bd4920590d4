"""/dev/mail: the mail `supportflow up`'s embedded SMTP server received (sign-in codes...).

Only in `up` (Settings.dev_endpoints) and only for the demo tenant's API key: the Maildir
holds every tenant's mail, so no other key may read it (404, as if the page did not exist).
JSON by default; a browser (Accept: text/html) gets a page, and without a key a small form
that POSTs it, so the key never lands in a URL or the browser history.
"""

from __future__ import annotations

import html
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from supportflow.api.deps import StateDep, merchant_tenant
from supportflow.mail.maildir import maildir_path
from supportflow.mail.maildir_reader import list_messages

router = APIRouter(tags=["dev"])

# Codes are short-lived secrets: no caching anywhere, no Referer to other sites.
_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class DevMail(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    message_id: str
    to: str
    subject: str
    date: str
    text: str
    # "from" in JSON; a Python keyword, so another name here.
    sender: str = Field(alias="from")


async def _read(state: StateDep, key: str | None, to: str | None, limit: int) -> list[DevMail]:
    tenant_id = await merchant_tenant(state, key)  # 401 for no key or a wrong one
    if not state.settings.demo_tenant_id or tenant_id != state.settings.demo_tenant_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")
    found = await run_in_threadpool(
        list_messages, maildir_path(state.settings.data_dir), to=to, limit=limit
    )
    return [
        DevMail(
            id=m["id"],
            message_id=m["message_id"],
            to=m["to"],
            subject=m["subject"],
            date=m["date"],
            text=m["text"],
            sender=m["from"],
        )
        for m in found
    ]


@router.get("/dev/mail", response_model=list[DevMail])
async def dev_mail(
    request: Request,
    state: StateDep,
    to: Annotated[str | None, Query(max_length=320)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Response:
    wants_html = "text/html" in request.headers.get("accept", "")
    if wants_html and not x_api_key:
        return HTMLResponse(_form(to), headers=_PRIVATE)
    mails = await _read(state, x_api_key, to, limit)
    if wants_html:
        return HTMLResponse(_page(mails, to), headers=_PRIVATE)
    return JSONResponse([m.model_dump(by_alias=True) for m in mails], headers=_PRIVATE)


@router.post("/dev/mail", include_in_schema=False)
async def dev_mail_form(request: Request, state: StateDep) -> HTMLResponse:
    # The browser form's POST (application/x-www-form-urlencoded); the body is capped by
    # the app's size limit.
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=4)
    key = (fields.get("key") or [""])[0].strip() or None
    to = (fields.get("to") or [""])[0].strip()[:320] or None
    try:
        mails = await _read(state, key, to, 50)
    except HTTPException as err:
        page = _form(to, error="Unknown or wrong API key.")
        return HTMLResponse(page, status_code=err.status_code, headers=_PRIVATE)
    return HTMLResponse(_page(mails, to), headers=_PRIVATE)


def _shell(body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>supportflow - dev mail</title></head><body>"
        f"<h1>Mail received by supportflow up</h1>{body}</body></html>"
    )


def _form(to: str | None, error: str | None = None) -> str:
    message = f"<p><strong>{html.escape(error)}</strong></p>" if error else ""
    return _shell(
        f"{message}<p>The demo tenant's API key is in <code>demo-tenant.json</code> in the "
        'data directory.</p><form method="post" action="/dev/mail">'
        '<p><label>API key <input name="key" type="password" autocomplete="off" '
        'required></label></p><p><label>To (optional) <input name="to" type="email" '
        f'value="{html.escape(to or "")}"></label></p>'
        '<p><button type="submit">Show mail</button></p></form>'
    )


def _page(mails: list[DevMail], to: str | None) -> str:
    scope = f" to {html.escape(to)}" if to else ""
    if not mails:
        return _shell(f"<p>No mail{scope} yet.</p>")
    items = "".join(_item(m) for m in mails)
    return _shell(f"<p>{len(mails)} message(s){scope}, newest first.</p>{items}")


def _item(m: DevMail) -> str:
    e = html.escape
    return (
        f"<article><h2>{e(m.subject)}</h2>"
        f"<p>To: {e(m.to)}<br>From: {e(m.sender)}<br>Date: {e(m.date)}</p>"
        f"<pre>{e(m.text)}</pre></article><hr>"
    )
