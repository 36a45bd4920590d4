"""The embedded demo store as a FastAPI app: its own database, read and write API, faults."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from supportflow.demo_store.db import create_store_engine
from supportflow.demo_store.fault_middleware import FaultMiddleware
from supportflow.demo_store.faults import FaultInjector, FaultSettings
from supportflow.demo_store.routes import orders, products, users
from supportflow.demo_store.routes.admin import router as admin_router
from supportflow.demo_store.seeding import seed_if_empty
from supportflow.demo_store.upgrade import add_missing_phones
from supportflow.store.errors import StoreError

ADMIN_ENV = "SUPPORTFLOW_STORE_ADMIN"
log = logging.getLogger(__name__)


def create_app(
    db_path: Path,
    *,
    faults: FaultSettings | None = None,
    admin: bool | None = None,
    seed_path: Path | None = None,
) -> FastAPI:
    """Build the store app; creates and seeds ``db_path`` on first use (never reseeds), and
    brings a database from an older version up to date (``upgrade.py``).

    ``admin`` (default: env SUPPORTFLOW_STORE_ADMIN=1) mounts /admin for tests. This call does
    blocking file I/O: from async code, run it in a thread.
    """
    engine = create_store_engine(db_path)
    if seed_if_empty(engine, seed_path):
        log.info("seeded demo store database at %s", db_path)
    if upgraded := add_missing_phones(engine):
        log.info("gave %d users of the demo store a phone number", upgraded)
    if admin is None:
        admin = os.environ.get(ADMIN_ENV) == "1"

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(title="supportflow demo store", lifespan=lifespan)
    app.state.engine = engine
    app.state.faults = FaultInjector(faults)

    @app.get("/health", name="health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    store_routers = (users.router, orders.router, products.router)
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
