"""`supportflow tenants store ...`: a tenant's store backend (demo or Shopify, Stripe refunds).

Secrets are never arguments: the options name the environment variables that hold them on
the workers, in the tenant's own namespace (``--token-env
SUPPORTFLOW_TENANT_T_0A1B2C3D4E5F6A7B_SHOPIFY_TOKEN``). A tenant without a connection has no
store; ``--backend demo`` gives it the operator's demo store.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from supportflow.cli.common import (
    DataDir,
    TenantArg,
    load_settings,
    open_keyring,
    open_sessions,
    resolve_tenant_id,
)

store_app = typer.Typer(
    no_args_is_help=True, help="A tenant's store backend (demo store or Shopify)."
)


@store_app.command("set")
def store_set(
    tenant: TenantArg,
    backend: Annotated[str, typer.Option(help="demo or shopify.")] = "demo",
    shop: Annotated[str | None, typer.Option(help="The shop's domain, x.myshopify.com.")] = None,
    api_version: Annotated[str, typer.Option(help="Shopify Admin API version.")] = "2025-07",
    token_env: Annotated[
        str | None,
        typer.Option(
            help="NAME of the variable with the Admin API access token: "
            "SUPPORTFLOW_TENANT_<TENANT ID>_*."
        ),
    ] = None,
    store_url: Annotated[
        str | None, typer.Option(help="demo backend: another demo store than the default.")
    ] = None,
    stripe_key_env: Annotated[
        str | None,
        typer.Option(
            help="Refund through Stripe: NAME of the variable with the secret key "
            "(SUPPORTFLOW_TENANT_<TENANT ID>_*)."
        ),
    ] = None,
    stripe_account: Annotated[
        str | None, typer.Option(help="Stripe connected account (acct_...), optional.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Set (replace) a tenant's store connection; prints it, with whether each secret's
    variable is set here."""
    from supportflow.store.connection import StoreConnectionError
    from supportflow.store.connection_store import StoreConnectionStore

    doc: dict[str, Any] = {"backend": backend, "api_version": api_version}
    for key, value in (("shop", shop), ("token_env", token_env), ("store_url", store_url)):
        if value is not None:
            doc[key] = value
    if stripe_key_env is not None or stripe_account is not None:
        doc["stripe"] = {"key_env": stripe_key_env, "account_id": stripe_account}
    engine, sessions, _ = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        connection = StoreConnectionStore(sessions).put(tenant_id, doc)
    except StoreConnectionError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(json.dumps({"tenant_id": tenant_id, **connection.public_view(tenant_id)}))


@store_app.command("show")
def store_show(
    tenant: TenantArg,
    data_dir: DataDir = None,
) -> None:
    """Print a tenant's store connection (no secrets: only whether each variable is set).
    A tenant without one prints ``"backend": null`` and why its agents have no store."""
    from supportflow.store.connection import NoStoreConnection, StoreConnectionError
    from supportflow.store.connection_store import StoreConnectionStore

    engine, sessions, demo_tenants = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        connection = StoreConnectionStore(sessions).effective(tenant_id, demo_tenants)
    except NoStoreConnection as err:
        typer.echo(json.dumps({"tenant_id": tenant_id, "backend": None, "detail": str(err)}))
        return
    except StoreConnectionError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(json.dumps({"tenant_id": tenant_id, **connection.public_view(tenant_id)}))


@store_app.command("webhooks")
def store_webhooks(
    tenant: TenantArg,
    secret_env: Annotated[
        str | None,
        typer.Option(
            help="NAME of the variable holding the secret the store signs webhooks with "
            "(Shopify: the app's client secret). Omitted: a new secret is made and printed "
            "once, for a store you configure yourself."
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Set the secret the tenant's store signs its webhooks with (sales agent, issue 14);
    prints the URL to register in the store, ``/v1/webhooks/store/<tenant id>``."""
    import os

    from supportflow.tenants.store_webhooks import new_webhook_secret, set_store_webhook_secret

    made = secret_env is None
    secret = new_webhook_secret() if secret_env is None else os.environ.get(secret_env, "")
    if not secret:
        typer.echo(f"error: the variable {secret_env} is not set", err=True)
        raise typer.Exit(2)
    settings = load_settings(data_dir)
    keyring = open_keyring(settings)
    engine, sessions, _ = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        set_store_webhook_secret(sessions, keyring, tenant_id, secret)
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    view = {
        "tenant_id": tenant_id,
        "webhook_url": f"{settings.public_url}/v1/webhooks/store/{tenant_id}",
        "secret_set": True,
    }
    if made:
        view["secret"] = secret  # shown once: the store needs it to sign
    typer.echo(json.dumps(view))
