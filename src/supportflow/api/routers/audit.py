"""The tenant's audit trail: filtered pages and a JSON-lines export (merchant API key).

Only the caller's tenant is ever read. Pages are newest first by default; ``cursor`` is the
``next_cursor`` of the page before (an entry's seq), so paging is stable while entries are
appended.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from supportflow.api.deps import CanReadAudit, StateDep
from supportflow.api.schemas import Problem
from supportflow.audit.entry import ActorKind, AuditEntry
from supportflow.audit.query import MAX_PAGE, AuditFilter, InvalidFilter, page

router = APIRouter(tags=["audit"])

_EXPORT_BATCH = 500
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No API key, or an unknown one."},
    422: {"model": Problem, "description": "A filter is invalid."},
}


class AuditEntryOut(BaseModel):
    tenant_id: str
    seq: int
    at: str
    actor_kind: str
    actor_id: str
    action: str
    target: str | None
    details: dict[str, Any]
    workflow_id: str | None
    run_id: str | None
    request_id: str | None
    idempotency_key: str | None
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    # Pass back as ``cursor`` for the next page; null: this was the last.
    next_cursor: int | None


def _out(e: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(**e.as_json())


def _filter(
    actor_kind: ActorKind | None,
    actor_id: str | None,
    action: str | None,
    target: str | None,
    workflow_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> AuditFilter:
    try:
        return AuditFilter(
            actor_kind=actor_kind.value if actor_kind else None,
            actor_id=actor_id,
            action=action,
            target=target,
            workflow_id=workflow_id,
            since=since,
            until=until,
        ).checked()
    except InvalidFilter as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err


ActorKindQ = Annotated[ActorKind | None, Query()]
Text255 = Annotated[str | None, Query(min_length=1, max_length=255)]
ActionQ = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        description="A dotted action name or its prefix: store, store.cancel_order.",
    ),
]
SinceQ = Annotated[datetime | None, Query(description="From this time (inclusive, ISO 8601).")]
UntilQ = Annotated[datetime | None, Query(description="Before this time (exclusive).")]


@router.get("/v1/audit", response_model=AuditPage, responses=_ERRORS)
async def list_audit(
    who: CanReadAudit,
    state: StateDep,
    actor_kind: ActorKindQ = None,
    actor_id: Text255 = None,
    action: ActionQ = None,
    target: Text255 = None,
    workflow_id: Text255 = None,
    since: SinceQ = None,
    until: UntilQ = None,
    cursor: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    order: Literal["asc", "desc"] = "desc",
) -> AuditPage:
    flt = _filter(actor_kind, actor_id, action, target, workflow_id, since, until)
    got = await run_in_threadpool(
        lambda: page(state.sessions, who.tenant_id, flt, cursor=cursor, limit=limit, order=order)
    )
    return AuditPage(entries=[_out(e) for e in got.entries], next_cursor=got.next_cursor)


@router.get(
    "/v1/audit/export",
    responses={
        **_ERRORS,
        200: {
            "content": {"application/x-ndjson": {}},
            "description": "Every matching entry, oldest first, one JSON object per line.",
        },
    },
    response_class=StreamingResponse,
)
async def export_audit(
    who: CanReadAudit,
    state: StateDep,
    actor_kind: ActorKindQ = None,
    actor_id: Text255 = None,
    action: ActionQ = None,
    target: Text255 = None,
    workflow_id: Text255 = None,
    since: SinceQ = None,
    until: UntilQ = None,
) -> StreamingResponse:
    # Checked before the first byte: a bad filter is a 422, not a broken stream.
    flt = _filter(actor_kind, actor_id, action, target, workflow_id, since, until)

    async def lines() -> AsyncIterator[bytes]:
        after = 0
        while True:
            # One short read per batch, on the thread pool: a long export holds no
            # transaction open and never blocks the event loop.
            batch = await run_in_threadpool(
                page,
                state.sessions,
                who.tenant_id,
                flt,
                cursor=after,
                limit=_EXPORT_BATCH,
                order="asc",
            )
            if batch.entries:
                yield "".join(
                    json.dumps(e.as_json(), separators=(",", ":")) + "\n" for e in batch.entries
                ).encode("utf-8")
            if batch.next_cursor is None:
                return
            after = batch.next_cursor

    return StreamingResponse(lines(), media_type="application/x-ndjson")
