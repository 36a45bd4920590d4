"""How the API is served (uvicorn): one configuration for `up`, `supportflow api` and tests."""

from __future__ import annotations

import uvicorn
from temporalio.client import Client

from supportflow.api.app import create_app
from supportflow.settings import Settings


def api_server_config(settings: Settings, *, temporal: Client | None = None) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings, temporal=temporal),
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        ws="websockets-sansio",
        # A frame over this is refused (1009) before it is read, let alone parsed.
        ws_max_size=settings.max_request_bytes,
        # X-Forwarded-For only from these (uvicorn's default trusts loopback).
        forwarded_allow_ips=settings.trusted_proxies,
        # observability (issue 15 item 5): with JSON logs, uvicorn's own lines go through the
        # root logger's JSON formatter instead of uvicorn's text handlers.
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        # Stopping (issue 15): requests in flight get the longest a chat turn waits, then the
        # rest are cancelled (a customer's message is in the workflow by then: its reply is
        # polled for as usual), so a drain ends within a pod's termination grace period.
        timeout_graceful_shutdown=int(settings.chat_reply_wait_seconds) + 5,
    )
