"""Build a Temporal client from settings. Never at import time: callers own the client."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.service import TLSConfig

from supportflow.crypto.codec import data_converter
from supportflow.crypto.keyring import KeyRing, load_keyring
from supportflow.observability.process import ensure_sdk_metrics
from supportflow.settings import Settings


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
