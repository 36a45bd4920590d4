"""Shared plumbing for the store's routers: the engine, the Idempotency-Key header, writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine

from supportflow.demo_store.idempotency import execute_write
from supportflow.demo_store.repository import Doc, StoreRepository

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def normalize_order_id(raw: str) -> str:
    """Accept order ids with or without the leading '#' (it is easy to lose in a URL)."""
    raw = raw.strip()
    return raw if raw.startswith("#") else f"#{raw}"


def run_write(
    request: Request,
    *,
    operation: str,
    target: str,
    body: BaseModel | None,
    key: str | None,
    apply: Callable[[StoreRepository], Doc],
    success_status: int = 200,
) -> JSONResponse:
    dispatcher = request.app.state.webhook_dispatcher
    result = execute_write(
        engine_of(request),
        operation=operation,
        target=target,
        body=body.model_dump(mode="json") if body is not None else {},
        key=key,
        apply=apply,
        success_status=success_status,
        emit_webhooks=dispatcher is not None,
    )
    if dispatcher is not None and not result.replayed:
        # The write may have put webhooks in the outbox: deliver now, not at the next poll.
        dispatcher.notify()
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return JSONResponse(result.body, status_code=result.status_code, headers=headers)
