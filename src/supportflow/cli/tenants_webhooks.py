"""`supportflow tenants webhooks set|show|rotate|delete`: where a tenant's back end receives
supportflow's webhook events (docs/webhooks.md). The signing secret is made here and printed
once: when the endpoint is first set, and at each rotation."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from supportflow.cli.common import (
    DataDir,
    TenantArg,
    load_settings,
    open_keyring,
    open_sessions,
    resolve_tenant_id,
)

webhooks_app = typer.Typer(
    no_args_is_help=True, help="A tenant's webhook endpoint (events sent to its back end)."
)


@webhooks_app.command("set")
def webhooks_set(
    tenant: TenantArg,
    url: Annotated[
        str, typer.Argument(help="https:// URL (plain http:// only to a loopback address).")
    ],
    data_dir: DataDir = None,
) -> None:
    """Set the endpoint's URL; the first time, prints its signing secret (shown once)."""
    from supportflow.webhooks.endpoints import InvalidWebhookUrl, set_endpoint

    settings = load_settings(data_dir)
    keyring = open_keyring(settings)
    engine, sessions, _demo = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        made = set_endpoint(
            sessions, keyring, tenant_id, url, allow_http=settings.outbound_webhook_allow_http
        )
    except InvalidWebhookUrl as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    out: dict[str, str] = made.endpoint.public_view()
    if made.secret is not None:
        out["secret"] = made.secret
    typer.echo(json.dumps(out))


@webhooks_app.command("show")
def webhooks_show(tenant: TenantArg, data_dir: DataDir = None) -> None:
    """Print the endpoint (never its secret)."""
    from supportflow.webhooks.endpoints import get_endpoint

    engine, sessions, _demo = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        found = get_endpoint(sessions, tenant_id)
    finally:
        engine.dispose()
    if found is None:
        typer.echo("error: this tenant has no webhook endpoint", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps(found.public_view()))


@webhooks_app.command("rotate")
def webhooks_rotate(tenant: TenantArg, data_dir: DataDir = None) -> None:
    """Print a new signing secret (shown once); the old one stops at once."""
    from supportflow.webhooks.endpoints import NoWebhookEndpoint, rotate_secret

    keyring = open_keyring(load_settings(data_dir))
    engine, sessions, _demo = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        secret = rotate_secret(sessions, keyring, tenant_id)
    except NoWebhookEndpoint as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(json.dumps({"tenant_id": tenant_id, "secret": secret}))


@webhooks_app.command("delete")
def webhooks_delete(tenant: TenantArg, data_dir: DataDir = None) -> None:
    """Remove the endpoint; its events not yet delivered are given up."""
    from supportflow.webhooks.endpoints import delete_endpoint

    engine, sessions, _demo = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        deleted = delete_endpoint(sessions, tenant_id)
    finally:
        engine.dispose()
    if not deleted:
        typer.echo("error: this tenant has no webhook endpoint", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps({"tenant_id": tenant_id, "deleted": True}))
