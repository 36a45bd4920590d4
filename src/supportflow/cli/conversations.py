"""`supportflow conversations ...`: operations on the conversations' workflows."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from supportflow.cli.common import DataDir, load_settings

conversations_app = typer.Typer(no_args_is_help=True, help="Conversations' workflows.")


@conversations_app.command("upgrade")
def upgrade_command(
    data_dir: DataDir = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count the conversations on older versions.")
    ] = False,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Only this tenant's conversations (its id).")
    ] = None,
) -> None:
    """Move open conversations on an older workflow version onto the newest one: each
    continues as new at its next quiet moment, carrying the whole conversation. Prints JSON:
    how many are open, how many were older, and the newest patch each recorded."""
    from supportflow.crypto.keyring import KeyRingError
    from supportflow.temporal.client import connect
    from supportflow.temporal.upgrade import TENANT_ID, upgrade_conversations

    settings = load_settings(data_dir)
    if tenant is not None and not TENANT_ID.fullmatch(tenant):
        typer.echo(f"error: not a tenant id: {tenant!r}", err=True)
        raise typer.Exit(2)

    async def run() -> dict[str, object]:
        client = await connect(settings)
        return (await upgrade_conversations(client, dry_run=dry_run, tenant=tenant)).as_dict()

    try:
        report = asyncio.run(run())
    except KeyRingError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    except RuntimeError as err:  # the Temporal server cannot be reached
        typer.echo(f"error: Temporal at {settings.temporal_address}: {err}", err=True)
        raise typer.Exit(1) from err
    typer.echo(json.dumps(report))
