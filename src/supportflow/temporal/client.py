"""Build a Temporal client from settings. Never at import time: callers own the client."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from supportflow.settings import Settings


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


async def connect(settings: Settings) -> Client:
    api_key = settings.temporal_api_key
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=api_key.get_secret_value() if api_key else None,
        tls=tls_config(settings),
        data_converter=pydantic_data_converter,
    )
