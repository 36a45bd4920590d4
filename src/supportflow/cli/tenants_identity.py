"""`supportflow tenants identity-secret rotate`: a new secret for signing shoppers' identity
tokens; tokens signed with the previous one keep verifying for the grace period."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from supportflow.cli.common import (
    DataDir,
    TenantArg,
    load_settings,
    open_keyring,
    open_sessions,
    resolve_tenant_id,
)

if TYPE_CHECKING:
    pass

identity_app = typer.Typer(
    no_args_is_help=True, help="A tenant's identity secret (signs shoppers' identity tokens)."
)


@identity_app.command("rotate")
def identity_secret_rotate(
    tenant: TenantArg,
    grace_hours: Annotated[
        float,
        typer.Option(
            "--grace-hours",
            min=0,
            max=720,
            help="How long tokens signed with the current secret keep verifying.",
        ),
    ] = 24.0,
    data_dir: DataDir = None,
) -> None:
    """Print a new identity secret (JSON, shown once); the old one expires after the grace."""
    from supportflow.identity.secrets import rotate_identity_secret

    keyring = open_keyring(load_settings(data_dir))
    engine, sessions, _demo = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        secret = rotate_identity_secret(
            sessions, keyring, tenant_id, grace=timedelta(hours=grace_hours)
        )
    finally:
        engine.dispose()
    typer.echo(
        json.dumps(
            {
                "tenant_id": tenant_id,
                "identity_secret": secret,
                "previous_valid_for_hours": grace_hours,
            }
        )
    )


@identity_app.command("sign")
def identity_token_sign(
    tenant: TenantArg,
    email: Annotated[str | None, typer.Option(help="The shopper's email.")] = None,
    sub: Annotated[str | None, typer.Option(help="The store's customer id.")] = None,
    ttl_minutes: Annotated[int, typer.Option(min=1, max=1440)] = 60,
    data_dir: DataDir = None,
) -> None:
    """Sign an identity token as the merchant's login would (to try the widget signed in)."""
    from supportflow.identity.secrets import identity_secrets
    from supportflow.identity.tokens import sign_identity_token

    if not (email or sub):
        raise typer.BadParameter("give --email or --sub")
    keyring = open_keyring(load_settings(data_dir))
    engine, sessions, _demo = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        found = identity_secrets(sessions, keyring, tenant_id)
    finally:
        engine.dispose()
    if not found:
        typer.echo("error: this tenant has no identity secret; rotate one first", err=True)
        raise typer.Exit(2)
    typer.echo(sign_identity_token(found[0], email=email, sub=sub, ttl_seconds=ttl_minutes * 60))
