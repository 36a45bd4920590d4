"""The FastAPI application: routers, limits, error shapes, and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from supportflow.api.chat_cors import ChatCors  # chat widget (issue 13 item 8)
from supportflow.api.console import pages as console_pages  # console (issue 12 item 7)
from supportflow.api.headers import SecurityHeaders
from supportflow.api.limits import BodySizeLimit
from supportflow.api.ratelimit import RateLimits
from supportflow.api.request_context import RequestIdMiddleware  # audit trail (issue 12)
from supportflow.api.routers import audit as audit_router  # audit trail (issue 12)
from supportflow.api.routers import (  # people behind the agents (issue 12)  # sales (issue 14)
    auth,
    chat,
    codec,
    conversations,
    dev_mail,
    dev_sms,
    email_webhooks,
    health,
    inbox,
    knowledge,
    operators,
    policy,
    sms,
    store_connection,
    store_webhooks,
    takeover,
    templates,
    unsubscribe,
    webhook_endpoint,  # outbound webhooks (issue 16)
)
from supportflow.api.routers import experiments as experiments_router  # issue 14 item 3
from supportflow.api.routers import messages as messages_router  # any channel, API key (issue 16)
from supportflow.api.routers import metrics as metrics_router  # management agent (issue 14)
from supportflow.api.routers import widget as widget_router  # chat widget (issue 13)
from supportflow.api.schemas import Problem
from supportflow.api.state import ApiState
from supportflow.crypto.keyring import load_keyring
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.observability import process as observability  # issue 15 item 5
from supportflow.observability.asgi import ObservabilityMiddleware, prometheus_router
from supportflow.settings import Settings
from supportflow.store.registry import StoreRegistry
from supportflow.temporal.client import connect
from supportflow.temporal.management import keep_management_agents  # management (issue 14)
from supportflow.temporal.pollers import warn_if_unpolled

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, temporal: Client | None = None) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.resolved_database_url
        await run_in_threadpool(upgrade, url)
        engine = make_engine(url)
        client = temporal or await connect(settings)
        # --- observability (issue 15 item 5): the client's calls traced when tracing is on
        # (a new client on the same connection; the caller's is left as it was) ---
        client = observability.ensure(settings).traced_client(client)
        # --- end observability ---
        sessions = make_session_factory(engine)
        stores = StoreRegistry.from_settings(settings, sessions)
        app.state.supportflow = ApiState(
            settings=settings,
            sessions=sessions,
            temporal=client,
            keyring=await run_in_threadpool(load_keyring, settings),
            stores=stores,
        )
        # --- management agent (issue 14): every tenant's agent, started in the background so
        # a Temporal slow to answer never holds up the API (settings.management_autostart) ---
        agents = (
            asyncio.create_task(keep_management_agents(client, sessions, settings))
            if settings.management_autostart
            else None
        )
        # --- end management agent ---
        # Said once when no worker polls the agents task queue (temporal/pollers.py).
        unpolled = asyncio.create_task(
            warn_if_unpolled(app.state.supportflow.agent_pollers(), settings)
        )
        try:
            yield
        finally:
            unpolled.cancel()
            await asyncio.gather(unpolled, return_exceptions=True)
            if agents is not None:
                agents.cancel()
                await asyncio.gather(agents, return_exceptions=True)
            await stores.aclose()
            engine.dispose()

    app = FastAPI(
        title="supportflow",
        version="0.1.0",
        lifespan=lifespan,
        # Every 422 says what is wrong: a list of field errors, or one sentence (a policy or a
        # template that fails its own checks); the schema says both, as the fuzz run checks.
        responses={422: {"model": Problem, "description": "invalid request; nothing changed"}},
    )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_request_bytes,
        # The UI asks the codec server to decode many payloads at once (encrypted, base64).
        larger={
            "/codec/": 4 * 1024 * 1024,
            # Providers post whole emails (issue 13); their routers refuse past the mail limit.
            "/v1/channels/mailgun/": 2 * settings.inbound_mail_max_bytes,
            "/v1/channels/sendgrid/": 2 * settings.inbound_mail_max_bytes,
            # A store's order with many lines runs to tens of KB (issue 14).
            "/v1/webhooks/store/": 1024 * 1024,
        },
    )
    # --- audit trail (issue 12 item 6): each request's X-Request-ID, read by audit entries ---
    app.add_middleware(RequestIdMiddleware)
    # --- end audit trail ---
    # --- embeddable chat widget (issue 13 item 8): the chat API from a merchant's origin ---
    app.add_middleware(ChatCors)
    # --- end embeddable chat widget ---
    # --- bounded anonymous use (issue 9 item 4): chat rate limits, security headers ---------
    app.state.ratelimits = RateLimits(settings)
    # Added last, so it wraps everything: even a 413 from the size limit carries the headers.
    app.add_middleware(SecurityHeaders, frame_ancestors=settings.frame_ancestors)
    # --- end bounded anonymous use ---------------------------------------------------------
    # --- observability (issue 15 item 5): outermost, so a request's span is the parent of
    # all it does and its clock sees what the client sees; GET /metrics ---
    app.add_middleware(ObservabilityMiddleware)
    if settings.metrics_enabled:
        app.include_router(prometheus_router(settings))
    # --- end observability ---
    app.include_router(health.router)
    app.include_router(chat.router)
    app.include_router(widget_router.router)  # embeddable chat widget (issue 13 item 8)
    app.include_router(conversations.router)
    app.include_router(messages_router.router)  # any channel, merchant's API key (issue 16)
    app.include_router(templates.router)
    app.include_router(policy.router)
    app.include_router(store_connection.router)
    app.include_router(webhook_endpoint.router)  # outbound webhooks (issue 16)
    app.include_router(knowledge.router)
    # --- operators and roles (issue 12 item 1): console sign-in, operator accounts ---
    app.include_router(auth.router)
    app.include_router(operators.router)
    # --- audit trail (issue 12 item 6): GET /v1/audit, /v1/audit/export ---
    app.include_router(audit_router.router)
    # --- people behind the agents (issue 12 items 2-3): inbox, takeover, approvals ---
    app.include_router(inbox.router)
    app.include_router(takeover.router)
    # --- end audit trail ---
    # --- operator console (issue 12 item 7): pages under /console ---
    app.include_router(console_pages.router)
    # --- end operator console ---
    # --- email and SMS (issue 13): provider webhooks ---
    app.include_router(sms.router)
    app.include_router(email_webhooks.router)
    # --- sales (issue 14): store webhooks, unsubscribe links ---
    app.include_router(store_webhooks.router)
    app.include_router(unsubscribe.router)
    app.include_router(experiments_router.router)  # experiments (issue 14 item 3)
    # --- end sales ---
    app.include_router(metrics_router.router)  # management agent (issue 14): metrics, guards
    # --- end email and SMS ---
    # Encryption at rest: the codec server the Temporal UI decodes payloads through.
    app.include_router(codec.router)
    # --- dev endpoints: only `supportflow up` turns them on (mail: issue 9 sign-in codes) ---
    if settings.dev_endpoints:
        app.include_router(dev_mail.router)
        app.include_router(dev_sms.router)

    @app.exception_handler(WorkflowUpdateFailedError)
    async def _update_rejected(_: Request, exc: WorkflowUpdateFailedError) -> JSONResponse:
        # The workflow's validator refused the message: the caller's input, not our fault.
        detail = str(exc.cause) if exc.cause else "message rejected"
        return JSONResponse({"detail": detail}, status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(RPCError)
    async def _temporal_down(_: Request, exc: RPCError) -> JSONResponse:
        log.warning("temporal unavailable: %s", exc.status)
        return JSONResponse(
            {"detail": "the agent service is unavailable; try again shortly"},
            status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Never a stack trace to the caller; the log has it for the engineer on call.
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse({"detail": "internal error"}, status.HTTP_500_INTERNAL_SERVER_ERROR)

    return app
