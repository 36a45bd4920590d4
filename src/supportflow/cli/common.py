"""Plumbing every CLI command module shares: settings, the ``--data-dir`` option, the app
database's sessions and the tenant argument.

Its own module so command modules import it and never each other (``main`` registers them).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from supportflow.logs import setup_logging
from supportflow.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from supportflow.crypto.keyring import KeyRing

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where state lives (or SUPPORTFLOW_DATA_DIR)."),
]
TenantArg = Annotated[str, typer.Argument(help="Tenant id (t_...) or name.")]


def load_settings(data_dir: Path | None = None) -> Settings:
    """Settings from the environment, ``--data-dir`` winning; sets up logging as configured."""
    overrides = {"data_dir": data_dir} if data_dir else {}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    setup_logging(settings.log_level, settings.log_format)  # JSON lines: issue 15 item 5
    return settings


def open_sessions(
    data_dir: Path | None,
) -> tuple[Engine, sessionmaker[Session], frozenset[str]]:
    """The migrated app database: its engine (dispose it when done), a session factory, and the
    ids of the tenants configured onto the demo store."""
    # Imported here so `supportflow --help` does not load SQLAlchemy and Alembic.
    from supportflow.db.engine import make_engine, make_session_factory
    from supportflow.db.migrate import upgrade

    settings = load_settings(data_dir)
    url = settings.resolved_database_url
    upgrade(url)
    engine = make_engine(url)
    return engine, make_session_factory(engine), settings.demo_store_tenant_ids


def resolve_tenant_id(sessions: sessionmaker[Session], tenant: str) -> str:
    """The id of the tenant named by id or name; exits 2 with a message when there is none."""
    from supportflow.db.models import Tenant
    from supportflow.tenants.service import find_tenant_by_name

    with sessions() as s:
        if s.get(Tenant, tenant) is not None:
            return tenant
    found = find_tenant_by_name(sessions, tenant)
    if found is None:
        typer.echo(f"error: no tenant with id or name {tenant!r}", err=True)
        raise typer.Exit(2)
    return found.id


def open_keyring(settings: Settings) -> KeyRing:
    """The app's key ring (secrets are sealed with it); exit 2, saying why, when none is set."""
    from supportflow.crypto.keyring import KeyRingError, load_keyring

    try:
        return load_keyring(settings)
    except KeyRingError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err


def run_service(main: Coroutine[Any, Any, None]) -> NoReturn:
    """Run a long-lived command (up, worker, api) to its end, then leave at once.

    Everything was shut down in order by then; what is left is the interpreter's own
    teardown, during which the Temporal SDK's background threads can call into a
    finalizing Python and abort the process (SIGABRT instead of the exit code a supervisor
    reads; temporalio/sdk-python#300). So the exit code is handed straight to the OS.
    """
    code = 0
    try:
        asyncio.run(main)
    except SystemExit as stop:
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)  # noqa: T201 - what SystemExit would print
            code = 1
        else:
            code = stop.code or 0
    except KeyboardInterrupt:
        code = 130
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
