"""`supportflow audit ...`: check that no audit entry was altered, removed or reordered, and
export a tenant's trail as JSON lines."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from supportflow.cli.common import DataDir, open_sessions

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

audit_app = typer.Typer(no_args_is_help=True, help="The audit trail: verify and export.")

TenantOpt = Annotated[str | None, typer.Option("--tenant", help="Tenant id (t_...) or name.")]


def _tenant_id(sessions: sessionmaker[Session], tenant: str) -> str:
    """The tenant's id by id or name; an id with entries but no tenant row (a tenant that
    was removed) still names its trail."""
    from sqlalchemy import select

    from supportflow.db.models import AuditLogRow, Tenant
    from supportflow.tenants.service import find_tenant_by_name

    with sessions() as s:
        if s.get(Tenant, tenant) is not None:
            return tenant
        if (
            s.scalar(select(AuditLogRow.seq).where(AuditLogRow.tenant_id == tenant).limit(1))
            is not None
        ):
            return tenant
    found = find_tenant_by_name(sessions, tenant)
    if found is None:
        typer.echo(f"error: no tenant with id or name {tenant!r}", err=True)
        raise typer.Exit(2)
    return found.id


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        typer.echo(f"error: {option} must be an ISO 8601 time, like 2026-11-30T10:00:00Z", err=True)
        raise typer.Exit(2) from None


@audit_app.command("verify")
def audit_verify(tenant: TenantOpt = None, data_dir: DataDir = None) -> None:
    """Walk every tenant's chain (or one's). Exits 0 with a one-line JSON summary, or 1
    naming the first entry that was altered, removed or reordered."""
    from supportflow.audit.verify import verify

    engine, sessions, _ = open_sessions(data_dir)
    try:
        tenant_id = _tenant_id(sessions, tenant) if tenant is not None else None
        result = verify(sessions, tenant_id)
    finally:
        engine.dispose()
    summary = {
        "ok": result.ok,
        "entries": sum(result.checked.values()),
        "checked": result.checked,
    }
    first = result.first_bad
    if first is None:
        typer.echo(json.dumps(summary))
        return
    summary["first_bad"] = {
        "tenant_id": first.tenant_id,
        "seq": first.seq,
        "problem": first.problem,
        "message": first.message,
    }
    summary["bad_tenants"] = [b.tenant_id for b in result.bad]
    typer.echo(json.dumps(summary))
    typer.echo(f"error: audit trail broken: {first.message}", err=True)
    raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id (t_...) or name.")],
    since: Annotated[
        str | None, typer.Option("--since", help="From this time (ISO 8601, inclusive).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Before this time (ISO 8601, exclusive).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """The tenant's entries, oldest first, one JSON object per line (with their hashes, so a
    copy kept elsewhere can later show a trail cut short)."""
    from supportflow.audit.query import AuditFilter, InvalidFilter, export

    flt = AuditFilter(since=_when(since, "--since"), until=_when(until, "--until"))
    try:
        flt = flt.checked()
    except InvalidFilter as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    engine, sessions, _ = open_sessions(data_dir)
    try:
        tenant_id = _tenant_id(sessions, tenant)
        for entry in export(sessions, tenant_id, flt):
            typer.echo(json.dumps(entry.as_json(), separators=(",", ":")))
    finally:
        engine.dispose()
