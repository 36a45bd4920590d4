"""ASGI middleware that carries out the FaultInjector's decisions around every store request.

It sits outside FastAPI so that an "after" fault can throw away a response whose write has
already been committed, and a timeout can stall without holding a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from starlette.routing import BaseRoute, Match

from supportflow.demo_store.faults import FaultInjector, FaultPlan

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class FaultMiddleware:
    """``routes`` are the faultable routes; their names are the operation names. The probe and
    the admin endpoints (the switch that turns faults off) are left out, so never faulted."""

    def __init__(
        self, app: ASGIApp, *, injector: FaultInjector, routes: Sequence[BaseRoute]
    ) -> None:
        self.app = app
        self.injector = injector
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation = self._operation(scope) if scope["type"] == "http" else None
        if operation is None:
            await self.app(scope, receive, send)
            return
        plan = self.injector.plan(operation)
        if plan.delay_s:
            await asyncio.sleep(plan.delay_s)
        if plan.kind is None:
            await self.app(scope, receive, send)
            return
        if plan.phase == "after":
            # Let the handler run (and commit), then lose its answer.
            await self.app(scope, receive, _discard)
        if plan.kind == "timeout":
            await _stall_until_hangup(receive, plan.stall_s)
        await _send_fault(send, plan, operation)

    def _operation(self, scope: Scope) -> str | None:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                name = getattr(route, "name", None)
                return str(name) if name else None
        return None


async def _discard(_message: Message) -> None:
    return None


async def _stall_until_hangup(receive: Receive, seconds: float) -> None:
    """Sleep ``seconds``, cut short when the client disconnects (so shutdown is not held up)."""

    async def hangup() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(hangup())
    try:
        await asyncio.wait({watcher}, timeout=seconds)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _send_fault(send: Send, plan: FaultPlan, operation: str) -> None:
    body = json.dumps({"detail": f"injected fault on {operation}"}).encode()
    mode = f"{plan.kind}_{plan.phase}"
    await send(
        {
            "type": "http.response.start",
            "status": plan.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-store-fault", mode.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
