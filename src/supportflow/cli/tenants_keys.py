"""`supportflow tenants keys ...`: rotate, revoke and list a tenant's secret API keys.

Only ``rotate`` prints a key, once; ``list`` shows ids, dates and the last four characters.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer

from supportflow.cli.common import DataDir, TenantArg, open_sessions, resolve_tenant_id

keys_app = typer.Typer(
    no_args_is_help=True, help="A tenant's secret API keys: rotate, revoke, list."
)

_VALID = ("active", "expiring")


def _when(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


@keys_app.command("rotate")
def keys_rotate(
    tenant: TenantArg,
    grace_hours: Annotated[
        float,
        typer.Option(
            "--grace-hours",
            help="How long the tenant's current keys keep working (0: stop now; at most 720).",
        ),
    ] = 24.0,
    data_dir: DataDir = None,
) -> None:
    """Issue a new API key (printed once, as JSON); the old ones expire after the grace."""
    from supportflow.audit.entry import ActorKind, NewEntry
    from supportflow.audit.log import append
    from supportflow.tenants.api_keys import MAX_GRACE, rotate

    grace = timedelta(hours=grace_hours)
    if not timedelta(0) <= grace <= MAX_GRACE:
        typer.echo(f"error: --grace-hours must be between 0 and {MAX_GRACE.days * 24}", err=True)
        raise typer.Exit(2)
    engine, sessions, _ = open_sessions(data_dir)
    try:
        issued = rotate(sessions, resolve_tenant_id(sessions, tenant), grace)
        # Audit trail (issue 12): the person at the server's shell acts as the system.
        append(
            sessions,
            NewEntry(issued.tenant_id, ActorKind.SYSTEM, "cli", "api_key.rotate", issued.key_id),
        )
    finally:
        engine.dispose()
    typer.echo(
        json.dumps(
            {
                "tenant_id": issued.tenant_id,
                "key_id": issued.key_id,
                "api_key": issued.api_key,
                "previous_keys_expire_at": _when(issued.previous_keys_expire_at),
            }
        )
    )


@keys_app.command("revoke")
def keys_revoke(
    tenant: TenantArg,
    key_id: Annotated[str, typer.Option("--key-id", help="The key's id (k_...), from list.")],
    data_dir: DataDir = None,
) -> None:
    """Stop one API key at once (a leaked key); prints what is left valid."""
    from supportflow.audit.entry import ActorKind, NewEntry
    from supportflow.audit.log import append
    from supportflow.tenants.api_keys import UnknownKey, list_keys, revoke

    engine, sessions, _ = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        try:
            revoked = revoke(sessions, tenant_id, key_id)
            append(sessions, NewEntry(tenant_id, ActorKind.SYSTEM, "cli", "api_key.revoke", key_id))
        except UnknownKey as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        left = [k.key_id for k in list_keys(sessions, tenant_id) if k.status in _VALID]
    finally:
        engine.dispose()
    out: dict[str, Any] = {
        "tenant_id": tenant_id,
        "key_id": revoked.key_id,
        "revoked_at": _when(revoked.revoked_at),
        "valid_keys": left,
    }
    if not left:
        out["warning"] = "no valid API key is left: issue one with `tenants keys rotate`"
    typer.echo(json.dumps(out))


@keys_app.command("list")
def keys_list(tenant: TenantArg, data_dir: DataDir = None) -> None:
    """The tenant's API keys: id, created, last four characters, expiry and status."""
    from supportflow.tenants.api_keys import list_keys

    engine, sessions, _ = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        keys = list_keys(sessions, tenant_id)
    finally:
        engine.dispose()
    typer.echo(
        json.dumps(
            {
                "tenant_id": tenant_id,
                "keys": [
                    {
                        "key_id": k.key_id,
                        "created_at": _when(k.created_at),
                        "last4": k.last4,
                        "expires_at": _when(k.expires_at),
                        "revoked_at": _when(k.revoked_at),
                        "status": k.status,
                    }
                    for k in keys
                ],
            }
        )
    )
