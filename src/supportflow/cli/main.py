"""`supportflow`: run the stack or its parts, and manage tenants."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from supportflow.chaos.cli import chaos_command
from supportflow.cli.common import DataDir, load_settings, open_keyring, run_service
from supportflow.cli.conversations import conversations_app
from supportflow.cli.encryption import customers_app, encryption_keys_app
from supportflow.cli.tenants_channels import channels_app
from supportflow.cli.tenants_identity import identity_app
from supportflow.cli.tenants_keys import keys_app
from supportflow.cli.tenants_store import store_app
from supportflow.cli.tenants_webhooks import webhooks_app  # outbound webhooks (issue 16)
from supportflow.sim.cli import simulate_command
from supportflow.understanding.cli import eval_command, understand_command, understanding_app

app = typer.Typer(no_args_is_help=True, help="AI customer-support agents on Temporal.")
tenants_app = typer.Typer(no_args_is_help=True, help="Manage tenants (merchants).")
db_app = typer.Typer(no_args_is_help=True, help="The app database.")
eval_app = typer.Typer(no_args_is_help=True, help="Measure quality.")
app.add_typer(tenants_app, name="tenants")
tenants_app.add_typer(store_app, name="store")
tenants_app.add_typer(channels_app, name="channels")
tenants_app.add_typer(keys_app, name="keys")
tenants_app.add_typer(identity_app, name="identity-secret")
tenants_app.add_typer(webhooks_app, name="webhooks")
app.add_typer(db_app, name="db")
app.add_typer(understanding_app, name="understanding")
app.add_typer(eval_app, name="eval")
app.command("understand")(understand_command)
app.command("chaos")(chaos_command)
app.command("simulate")(simulate_command)
eval_app.command("understanding")(eval_command)
# --- encryption at rest: `keys rotate|codec-token`, `customers erase` (cli/encryption.py) ---
app.add_typer(encryption_keys_app, name="keys")
app.add_typer(customers_app, name="customers")
app.add_typer(conversations_app, name="conversations")
# --- end encryption at rest ---
# --- audit trail (issue 12 item 6): `audit verify|export` (cli/audit.py) ---
from supportflow.cli.audit import audit_app  # noqa: E402

app.add_typer(audit_app, name="audit")
# --- end audit trail ---
# --- operators (issue 12 item 1): `operators create|list|disable|token|revoke-token` ---
from supportflow.cli.operators import operators_app  # noqa: E402

app.add_typer(operators_app, name="operators")
# --- end operators ---
# --- experiments (issue 14 item 3): `experiments create|list|show|start|stop|results` ---
from supportflow.cli.experiments import experiments_app  # noqa: E402

app.add_typer(experiments_app, name="experiments")
# --- end experiments ---


@app.command()
def up(
    data_dir: DataDir = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=32,
            help="Worker processes (default 1: the worker runs inside the API's process). "
            "More use more cores; each logs to <data dir>/logs/worker-<i>.log.",
        ),
    ] = None,
) -> None:
    """Run everything on this machine: Temporal dev server, workers, API, demo store."""
    from supportflow.stack.embedded import run_embedded

    settings = load_settings(data_dir)
    if workers is not None:
        settings = settings.model_copy(update={"embedded_workers": workers})
    run_service(run_embedded(settings))


@app.command()
def worker(
    queues: Annotated[
        str, typer.Option(help="Comma-separated task queues to serve: agents,ai,integrations.")
    ] = "agents,ai,integrations",
) -> None:
    """Run workers against the Temporal server in SUPPORTFLOW_TEMPORAL_ADDRESS."""
    from supportflow.stack.standalone import run_worker
    from supportflow.worker import Queue

    try:
        chosen = [Queue(q.strip()) for q in queues.split(",") if q.strip()]
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--queues") from err
    run_service(run_worker(load_settings(), chosen))


@app.command()
def api() -> None:
    """Run the HTTP API against the Temporal server in SUPPORTFLOW_TEMPORAL_ADDRESS."""
    from supportflow.stack.standalone import run_api

    run_service(run_api(load_settings()))


@tenants_app.command("create")
def tenants_create(name: str, data_dir: DataDir = None) -> None:
    """Create a tenant; prints its id, secret API key and identity secret (shown once) and
    public chat key."""
    from supportflow.db.engine import make_engine, make_session_factory
    from supportflow.db.migrate import upgrade
    from supportflow.tenants.channels import configure_channels, default_support_email
    from supportflow.tenants.service import InvalidTenantName, create_tenant

    settings = load_settings(data_dir)
    # Before anything is written: the identity secret is sealed with these keys.
    keyring = open_keyring(settings)
    url = settings.resolved_database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        created = create_tenant(sessions, name, keyring=keyring)
        # Every tenant gets a support address the inbound SMTP server accepts (issue 13).
        support_email = default_support_email(created.tenant_id, settings.inbound_mail_domain)
        configure_channels(sessions, keyring, created.tenant_id, support_email=support_email)
    except InvalidTenantName as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err
    finally:
        engine.dispose()
    typer.echo(
        json.dumps(
            {
                "tenant_id": created.tenant_id,
                "name": created.name,
                "api_key": created.api_key,
                "chat_key": created.chat_key,
                "identity_secret": created.identity_secret,
                "support_email": support_email,
            }
        )
    )


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Apply database migrations."""
    from supportflow.db.migrate import upgrade

    upgrade(load_settings(data_dir).resolved_database_url)
