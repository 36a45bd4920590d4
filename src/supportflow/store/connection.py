"""A tenant's store connection: which commerce backend its agents use, and where.

Stored per tenant in the app database (``store/connection_store.py``); validated when saved
and again when loaded, so a bad row is a clear error, never a half-built adapter. Secrets are
never stored: the row names the *environment variables* that hold them (``token_env``,
``stripe_key_env``), and the worker reads them when it builds the adapter
(``store/registry.py``), as ``SecretStr``.

Isolation between tenants:
- A tenant without a row has no store: its agents refuse every store read and write
  (``NoStoreConnection``), except the tenants the operator lists in
  ``SUPPORTFLOW_DEMO_STORE_TENANTS`` (tests, local development). The demo store is the
  operator's: a ``backend="demo"`` row is written by the operator (``supportflow tenants store
  set``, or ``supportflow up`` for the demo tenant it creates), never by a merchant.
- A tenant's connection may only name variables in its own namespace,
  ``SUPPORTFLOW_TENANT_<TENANT ID>_*`` (``tenant_env_prefix``): a merchant cannot read another
  tenant's token, nor learn whether any other variable exists on the workers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Backend = Literal["demo", "shopify"]

# A Shopify shop's permanent domain.
_SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$")
# A local stand-in speaking Shopify's or Stripe's wire format (tests, development).
_LOOPBACK_URL = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}$")
_API_VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,99}$")
_STRIPE_ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]{6,64}$")
_STRIPE_API = "https://api.stripe.com"
# The app's own secrets live in these; a tenant's connection may never point at them...
_RESERVED_ENV_PREFIXES = ("SUPPORTFLOW_",)
# ...except its own namespace under this prefix (no setting may start with ``tenant_``).
TENANT_ENV_PREFIX = "SUPPORTFLOW_TENANT_"


class StoreConnectionError(ValueError):
    """A connection that cannot be saved or used; the message says what is wrong."""


class NoStoreConnection(StoreConnectionError):
    """The tenant has no store connection, and is not allowed the demo store without one."""


def tenant_env_prefix(tenant_id: str) -> str:
    """The start of every variable name a tenant's connection may use: ``t_0a1b`` ->
    ``SUPPORTFLOW_TENANT_T_0A1B_``."""
    return TENANT_ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", tenant_id.upper()) + "_"


def tenant_env_name(tenant_id: str, name: str) -> str:
    """A variable in the tenant's namespace: ``tenant_env_name("t_0a1b", "SHOPIFY_TOKEN")``."""
    return tenant_env_prefix(tenant_id) + name


class StripeConnection(BaseModel):
    """Refunds through Stripe (the tenant's Stripe account, or a connected account)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_env: str = Field(description="Environment variable holding the Stripe secret key.")
    account_id: str | None = Field(
        default=None, description="A connected account (acct_...), sent as Stripe-Account."
    )
    api_base: str = _STRIPE_API

    @field_validator("key_env")
    @classmethod
    def _env(cls, value: str) -> str:
        return _check_env_name(value)

    @field_validator("account_id")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not _STRIPE_ACCOUNT.fullmatch(value):
            raise ValueError("Stripe account id must look like acct_1A2b3C4d5E")
        return value

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        value = value.rstrip("/")
        if value != _STRIPE_API and not _LOOPBACK_URL.fullmatch(value):
            raise ValueError(f"Stripe API base must be {_STRIPE_API} (or a loopback stand-in)")
        return value


class StoreConnection(BaseModel):
    """Where a tenant's store is. ``backend="demo"`` uses the demo store (``store_url``, or the
    configured SUPPORTFLOW_STORE_URL when empty); ``"shopify"`` needs the shop and the name of
    the variable holding its Admin API access token."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Backend = "demo"
    store_url: str | None = None
    shop: str | None = Field(default=None, description="x.myshopify.com")
    api_version: str = "2025-07"
    token_env: str | None = Field(
        default=None, description="Environment variable holding the Admin API access token."
    )
    stripe: StripeConnection | None = None

    @field_validator("shop")
    @classmethod
    def _shop(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower().rstrip("/")
        value = value.removeprefix("https://")
        if not (_SHOP_DOMAIN.fullmatch(value) or _LOOPBACK_URL.fullmatch(value)):
            raise ValueError("shop must be the shop's permanent domain, like acme.myshopify.com")
        return value

    @field_validator("store_url")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not re.fullmatch(r"^https?://[\w.\-\[\]:]+(/[\w.\-/]*)?$", value):
            raise ValueError("store_url must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _API_VERSION.fullmatch(value):
            raise ValueError("api_version must be a Shopify API version, like 2025-07")
        return value

    @field_validator("token_env")
    @classmethod
    def _token_env(cls, value: str | None) -> str | None:
        return None if value is None else _check_env_name(value)

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.backend == "shopify":
            missing = [n for n in ("shop", "token_env") if getattr(self, n) is None]
            if missing:
                raise ValueError(f"the shopify backend needs {' and '.join(missing)}")
            if self.store_url is not None:
                raise ValueError("store_url is for the demo backend only")
        else:
            extra = [n for n in ("shop", "token_env", "stripe") if getattr(self, n) is not None]
            if extra:
                raise ValueError(f"the demo backend takes no {', '.join(extra)}")
        return self

    def env_names(self) -> list[str]:
        """The environment variables this connection reads secrets from."""
        names = [self.token_env] if self.token_env else []
        if self.stripe is not None:
            names.append(self.stripe.key_env)
        return names

    def public_view(
        self, tenant_id: str, environ: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """The connection as the merchant may see it: variable names and whether each is set
        on this machine, never a value; and that only for names in the tenant's namespace (a
        stored connection is checked against it, this is a second guard)."""
        env = os.environ if environ is None else environ
        prefix = tenant_env_prefix(tenant_id)
        doc = self.model_dump(mode="json")
        doc["secrets"] = {
            name: bool(env.get(name)) if name.startswith(prefix) else None
            for name in self.env_names()
        }
        return doc

    def check_namespace(self, tenant_id: str) -> Self:
        """Refuse names outside the tenant's namespace. The message is the same whether or
        not such a variable exists anywhere: it is about the name only."""
        prefix = tenant_env_prefix(tenant_id)
        fields = [("token_env", self.token_env)]
        if self.stripe is not None:
            fields.append(("stripe.key_env", self.stripe.key_env))
        outside = [field for field, name in fields if name and not name.startswith(prefix)]
        if outside:
            raise StoreConnectionError(
                f"invalid store connection: {' and '.join(outside)} must name a variable "
                f"starting with {prefix} (a tenant's connection can only use variables in its "
                f"own namespace, e.g. {prefix}SHOPIFY_TOKEN)"
            )
        return self


DEFAULT_CONNECTION = StoreConnection()


def parse_connection(
    doc: Mapping[str, Any] | None, tenant_id: str | None = None
) -> StoreConnection:
    """Validate a connection document (None: the default), and with ``tenant_id`` its
    variable names against the tenant's namespace. Raises StoreConnectionError."""
    if doc is None:
        return DEFAULT_CONNECTION
    try:
        connection = StoreConnection.model_validate(dict(doc))
    except ValidationError as err:
        raise StoreConnectionError(_describe(err)) from None
    return connection if tenant_id is None else connection.check_namespace(tenant_id)


def _check_env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(
            "must be the NAME of an environment variable (A-Z, 0-9, _), not the secret itself"
        )
    if value.startswith(_RESERVED_ENV_PREFIXES) and not value.startswith(TENANT_ENV_PREFIX):
        raise ValueError(
            f"SUPPORTFLOW_* variables hold the app's own secrets; use the tenant's own "
            f"{TENANT_ENV_PREFIX}<TENANT ID>_* names"
        )
    return value


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in e["loc"])
        message = str(e["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "invalid store connection: " + "; ".join(parts)
