"""The embedded demo store as a FastAPI app: its own database, read and write API, faults."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from supportflow.demo_store.db import create_store_engine
from supportflow.demo_store.fault_middleware import FaultMiddleware
from supportflow.demo_store.faults import FaultInjector, FaultSettings
from supportflow.demo_store.routes import checkouts, discount_codes, orders, products, users
from supportflow.demo_store.routes.admin import router as admin_router
from supportflow.demo_store.seeding import seed_if_empty
from supportflow.demo_store.upgrade import add_missing_phones
from supportflow.demo_store.webhooks.config import StoreWebhooks
from supportflow.demo_store.webhooks.dispatcher import WebhookDispatcher
from supportflow.store.errors import StoreError

ADMIN_ENV = "SUPPORTFLOW_STORE_ADMIN"
# A checkout not completed this long after it was created is reported abandoned.
DEFAULT_ABANDON_AFTER = timedelta(minutes=10)
log = logging.getLogger(__name__)


def create_app(
    db_path: Path,
    *,
    faults: FaultSettings | None = None,
    admin: bool | None = None,
    seed_path: Path | None = None,
    webhooks: StoreWebhooks | None = None,
    abandon_after: timedelta | float = DEFAULT_ABANDON_AFTER,
) -> FastAPI:
    """Build the store app; creates and seeds ``db_path`` on first use (never reseeds), and
    brings a database from an older version up to date (``upgrade.py``).

    ``admin`` (default: env SUPPORTFLOW_STORE_ADMIN=1) mounts /admin for tests. This call does
    blocking file I/O: from async code, run it in a thread.

    ``webhooks``: where to send the store's signed webhooks (None: send none; writes then put
    nothing in the outbox). ``abandon_after`` (a timedelta or seconds): when an uncompleted
    checkout is reported with checkouts/abandoned.
    """
    abandon_after_s = (
        abandon_after.total_seconds() if isinstance(abandon_after, timedelta) else abandon_after
    )
    if abandon_after_s <= 0:
        raise ValueError("abandon_after must be positive")
    engine = create_store_engine(db_path)
    if seed_if_empty(engine, seed_path):
        log.info("seeded demo store database at %s", db_path)
    if upgraded := add_missing_phones(engine):
        log.info("gave %d users of the demo store a phone number", upgraded)
    if admin is None:
        admin = os.environ.get(ADMIN_ENV) == "1"

    dispatcher = (
        WebhookDispatcher(engine, webhooks, abandon_after_s=abandon_after_s)
        if webhooks is not None
        else None
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if dispatcher is not None:
            await dispatcher.start()
        try:
            yield
        finally:
            if dispatcher is not None:
                await dispatcher.stop()
            engine.dispose()

    app = FastAPI(title="supportflow demo store", lifespan=lifespan)
    app.state.engine = engine
    app.state.faults = FaultInjector(faults)
    app.state.webhook_dispatcher = dispatcher

    @app.get("/health", name="health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    store_routers = (
        users.router,
        orders.router,
        products.router,
        checkouts.router,
        discount_codes.router,
    )
    for router in store_routers:
        app.include_router(router)
    if admin:
        app.include_router(admin_router)

    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(Exception, _unexpected_error)
    # Only the store's own routes can be faulted: never /health or /admin.
    faultable = [route for router in store_routers for route in router.routes]
    app.add_middleware(FaultMiddleware, injector=app.state.faults, routes=faultable)
    return app


async def _store_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    # Logged here with its traceback; the caller gets a plain JSON 500, never a stack trace.
    log.exception("store request failed", exc_info=exc)
    return JSONResponse({"detail": "internal store error"}, status_code=500)
