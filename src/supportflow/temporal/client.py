"""Build a Temporal client from settings. Never at import time: callers own the client."""

from __future__ import annotations

import asyncio
import logging
import re

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from supportflow.crypto.codec import data_converter
from supportflow.crypto.keyring import KeyRing, load_keyring
from supportflow.observability.process import ensure_sdk_metrics
from supportflow.settings import Settings

log = logging.getLogger(__name__)

# Waits between attempts to reach Temporal at start: 1 s, doubling, at most 15 s.
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 15.0
# One attempt may take this long (a black-holed address never answers at all).
ATTEMPT_LIMIT_S = 10.0
# What a server not up yet (or restarting) answers; anything else is not retried.
_TRANSIENT = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}
_TRANSPORT_SAYS = re.compile(r'(?:message|error): "([^"]+)"')


class TemporalUnreachable(Exception):
    """Temporal did not answer within ``temporal_connect_timeout_seconds``."""


class NamespaceNotFound(Exception):
    """Temporal answered, but has no namespace by the configured name."""


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` of a Temporal frontend as (host, port); no host means loopback."""
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def tls_config(settings: Settings) -> TLSConfig | bool:
    cert, key = settings.temporal_tls_client_cert_path, settings.temporal_tls_client_key_path
    ca = settings.temporal_tls_server_ca_cert_path
    if not (settings.temporal_tls or cert or ca):
        # An API key implies TLS (Temporal Cloud); the SDK turns it on when tls=True.
        return settings.temporal_api_key is not None
    return TLSConfig(
        client_cert=cert.read_bytes() if cert else None,
        client_private_key=key.read_bytes() if key else None,
        server_root_ca_cert=ca.read_bytes() if ca else None,
        domain=settings.temporal_tls_server_name,
    )


async def connect(settings: Settings, *, keyring: KeyRing | None = None) -> Client:
    """A client whose payloads are encrypted with the configured keys (always on: a worker
    without them could neither write history nor read it)."""
    api_key = settings.temporal_api_key
    # --- observability (issue 15 item 5): the SDK's metrics join /metrics; the runtime that
    # records them must be the default before the client connects ---
    ensure_sdk_metrics(settings)
    # --- end observability ---
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=api_key.get_secret_value() if api_key else None,
        tls=tls_config(settings),
        data_converter=data_converter(keyring or load_keyring(settings)),
    )


async def connect_with_retry(
    settings: Settings,
    *,
    keyring: KeyRing | None = None,
    first_retry_s: float = FIRST_RETRY_S,
    max_retry_s: float = MAX_RETRY_S,
) -> Client:
    """``connect``, retried with back-off while Temporal is not there yet (a worker started
    before the server, a cluster restarting), for ``temporal_connect_timeout_seconds``; each
    failed attempt is logged once. Raises ``TemporalUnreachable`` saying where it looked."""
    if keyring is None:
        keyring = load_keyring(settings)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.temporal_connect_timeout_seconds
    where = f"{settings.temporal_address} (namespace {settings.temporal_namespace})"
    wait = first_retry_s
    attempt = 0
    while True:
        attempt += 1
        try:
            return await asyncio.wait_for(connect(settings, keyring=keyring), ATTEMPT_LIMIT_S)
        except (RuntimeError, TimeoutError, RPCError) as err:
            if isinstance(err, RPCError) and err.status not in _TRANSIENT:
                raise
            reason = _reason(err)
        left = deadline - loop.time()
        if left < 0.1:  # a timer may fire a hair early: no attempt for the last instant
            raise TemporalUnreachable(
                f"Temporal at {where} did not answer within "
                f"{settings.temporal_connect_timeout_seconds:g}s ({attempt} attempt"
                f"{'s' if attempt > 1 else ''}; "
                f"last: {reason}); check SUPPORTFLOW_TEMPORAL_ADDRESS"
            )
        pause = min(wait, left)
        log.warning(
            "Temporal at %s not reachable (attempt %d: %s); retrying in %.1fs",
            where,
            attempt,
            reason,
            pause,
        )
        await asyncio.sleep(pause)
        wait = min(wait * 2, max_retry_s)


def _reason(err: BaseException) -> str:
    """One line about a failed attempt (the SDK's error text names no credentials)."""
    if isinstance(err, TimeoutError):
        return f"no answer within {ATTEMPT_LIMIT_S:g}s"
    text = " ".join(str(err).split()) or type(err).__name__
    # The transport's own words ("Connection refused", a DNS failure), not its debug dump.
    said = _TRANSPORT_SAYS.findall(text)
    return said[-1] if said else text.removeprefix("Failed client connect: ")[:300]


async def require_namespace(client: Client, settings: Settings) -> None:
    """Raise ``NamespaceNotFound`` when the configured namespace does not exist: a worker
    would fail its own check with a traceback, an API every request. The same call the
    SDK's worker validation makes, so it needs no more permission than a worker has."""
    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=settings.temporal_namespace)
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        raise NamespaceNotFound(
            f"Temporal at {settings.temporal_address} has no namespace "
            f"{settings.temporal_namespace!r}; check SUPPORTFLOW_TEMPORAL_NAMESPACE"
        ) from None
