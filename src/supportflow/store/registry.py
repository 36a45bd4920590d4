"""The store port of each tenant, for activities: ``await registry.port_for(tenant_id)``.

Ports are built lazily from the tenant's connection (``store/connection.py``, read from the
app database) and cached per tenant for ``ttl`` seconds; after that the connection is read
again, and a changed connection (or a rotated secret) builds a new port. A tenant without a
connection has no store (``NoStoreConnection``) unless the operator allowed it the demo store
(``SUPPORTFLOW_DEMO_STORE_TENANTS``). Tenants on the demo store share one client per store
URL. A port that is replaced stays open until the registry closes (an activity may still be
using it); ``async with`` closes everything.

Secrets are read from the environment variables the connection names, as ``SecretStr``, at
build time; they go into the adapters' request headers and nowhere else. A missing
connection, a missing variable or a connection that no longer validates raises
``StoreConfigError``: a ``StoreRejected``, so activities fail it for good (no retry loop) and
the customer gets the "can't reach our order system" reply.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.settings import Settings
from supportflow.store.adapters.demo import DemoStoreAdapter
from supportflow.store.adapters.demo_client import StoreClient
from supportflow.store.connection import StoreConnection, StoreConnectionError
from supportflow.store.connection_store import StoreConnectionStore
from supportflow.store.errors import StoreRejected
from supportflow.store.port import StorePort

log = logging.getLogger(__name__)


class StoreConfigError(StoreRejected):
    """The tenant's store connection cannot be used (it has none, a secret's variable is not
    set, or the stored connection is invalid). Permanent until someone fixes the
    configuration."""

    default_status = 424


class PortSource(Protocol):
    """Where activities get a tenant's store port."""

    async def port_for(self, tenant_id: str) -> StorePort: ...


class StaticPorts:
    """One port for every tenant: a single-store deployment, or a test. Does not own it."""

    def __init__(self, port: StorePort) -> None:
        self._port = port

    async def port_for(self, tenant_id: str) -> StorePort:
        return self._port


def port_source(store: StoreClient | PortSource) -> PortSource:
    """Activities accept a bare demo ``StoreClient`` too (tests, tools): every tenant on it."""
    if isinstance(store, StoreClient):
        port = store if isinstance(store, DemoStoreAdapter) else DemoStoreAdapter.sharing(store)
        return StaticPorts(port)
    return store


@dataclass
class _Entry:
    connection: StoreConnection
    fingerprint: str
    port: StorePort
    owned: bool
    expires: float


class StoreRegistry:
    def __init__(
        self,
        *,
        default_store_url: str,
        sessions: sessionmaker[Session] | None = None,
        database_url: str | None = None,
        ttl: float = 30.0,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        shopify_options: Mapping[str, Any] | None = None,
        demo_store_tenants: Collection[str] = (),
    ) -> None:
        """``demo_store_tenants``: tenant ids that use the demo store at ``default_store_url``
        when they have no connection; ``*`` for every tenant (tests, local development)."""
        if sessions is None and database_url is None:
            raise ValueError("give sessions or database_url")
        self._default_url = default_store_url
        self._sessions = sessions
        self._database_url = database_url
        self._engine: Engine | None = None
        self._ttl = ttl
        self._environ = environ if environ is not None else os.environ
        self._clock = clock
        self._shopify_options = dict(shopify_options or {})
        self._demo_tenants = frozenset(demo_store_tenants)
        self._entries: dict[str, _Entry] = {}
        self._demo: dict[str, DemoStoreAdapter] = {}
        self._retired: list[StorePort] = []
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(
        cls, settings: Settings, sessions: sessionmaker[Session] | None = None
    ) -> StoreRegistry:
        return cls(
            default_store_url=settings.resolved_store_url,
            sessions=sessions,
            database_url=None if sessions is not None else settings.resolved_database_url,
            ttl=settings.store_connection_ttl_seconds,
            demo_store_tenants=settings.demo_store_tenant_ids,
        )

    async def __aenter__(self) -> Self:
        if self._sessions is None:
            assert self._database_url is not None
            # A worker serving only the integrations queue may be the first to start.
            await asyncio.to_thread(upgrade, self._database_url)
            self._engine = make_engine(self._database_url)
            self._sessions = make_session_factory(self._engine)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        ports: list[StorePort] = [e.port for e in self._entries.values() if e.owned]
        ports += self._retired
        ports += list(self._demo.values())
        self._entries.clear()
        self._retired.clear()
        self._demo.clear()
        for port in ports:
            try:
                await port.aclose()
            except Exception:  # closing must go on for the others
                log.warning("closing a store port failed", exc_info=True)
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    async def port_for(self, tenant_id: str) -> StorePort:
        entry = self._entries.get(tenant_id)
        if entry is not None and self._clock() < entry.expires:
            return entry.port
        async with self._lock:
            entry = self._entries.get(tenant_id)
            if entry is not None and self._clock() < entry.expires:
                return entry.port
            connection = await asyncio.to_thread(self._load, tenant_id)
            secrets = self._secrets(tenant_id, connection)
            fingerprint = _fingerprint(secrets)
            if (
                entry is not None
                and entry.connection == connection
                and entry.fingerprint == fingerprint
            ):
                entry.expires = self._clock() + self._ttl
                return entry.port
            port, owned = self._build(connection, secrets)
            if entry is not None and entry.owned:
                self._retired.append(entry.port)
            self._entries[tenant_id] = _Entry(
                connection, fingerprint, port, owned, self._clock() + self._ttl
            )
            log.info("store backend for tenant %s: %s", tenant_id, connection.backend)
            return port

    def _load(self, tenant_id: str) -> StoreConnection:
        assert self._sessions is not None, "use the registry as an async context manager"
        try:
            return StoreConnectionStore(self._sessions).effective(tenant_id, self._demo_tenants)
        except StoreConnectionError as err:
            raise StoreConfigError(str(err)) from None

    def _secrets(self, tenant_id: str, connection: StoreConnection) -> dict[str, SecretStr]:
        found: dict[str, SecretStr] = {}
        missing = []
        for name in connection.env_names():
            value = self._environ.get(name, "").strip()
            if value:
                found[name] = SecretStr(value)
            else:
                missing.append(name)
        if missing:
            raise StoreConfigError(
                f"the {connection.backend} store connection of tenant {tenant_id} needs the "
                f"environment variable {', '.join(missing)}, which is not set on this worker"
            )
        return found

    def _build(
        self, connection: StoreConnection, secrets: Mapping[str, SecretStr]
    ) -> tuple[StorePort, bool]:
        if connection.backend == "demo":
            url = connection.store_url or self._default_url
            if url not in self._demo:
                self._demo[url] = DemoStoreAdapter(url)
            return self._demo[url], False  # shared by tenants: closed with the registry
        assert connection.shop is not None and connection.token_env is not None
        options: dict[str, Any] = {
            "api_version": connection.api_version,
            # The cancel saga refunds before it cancels: the cancel must not refund again.
            "refund_on_cancel": False,
            **self._shopify_options,
        }
        token = secrets[connection.token_env]
        if connection.stripe is None:
            from supportflow.store.adapters.shopify import ShopifyAdapter

            return ShopifyAdapter(connection.shop, token, **options), True
        from supportflow.store.adapters.shopify_stripe import ShopifyWithStripeRefunds
        from supportflow.store.adapters.stripe import StripeRefunds

        stripe = StripeRefunds(
            secrets[connection.stripe.key_env],
            base_url=connection.stripe.api_base,
            stripe_account=connection.stripe.account_id,
        )
        return ShopifyWithStripeRefunds(connection.shop, token, stripe=stripe, **options), True


def _fingerprint(secrets: Mapping[str, SecretStr]) -> str:
    """Tells a rotated secret from the one in use, without keeping it in another form."""
    digest = hashlib.sha256()
    for name in sorted(secrets):
        digest.update(name.encode() + b"\0" + secrets[name].get_secret_value().encode() + b"\0")
    return digest.hexdigest()
