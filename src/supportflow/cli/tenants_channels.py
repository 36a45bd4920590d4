"""`supportflow tenants channels ...`: how a tenant is reached by email and SMS.

Secrets are never arguments (they would sit in shell history): ``--twilio-auth-token-env`` and
``--mailgun-signing-key-env`` name environment variables read once here; the values are then
stored sealed with the app's key ring, like the identity secret.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from supportflow.crypto.keyring import KeyRing

from supportflow.cli.common import (
    DataDir,
    TenantArg,
    load_settings,
    open_keyring,
    open_sessions,
    resolve_tenant_id,
)

channels_app = typer.Typer(no_args_is_help=True, help="A tenant's email and SMS channels.")


def _from_env(name: str | None) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        typer.echo(f"error: the variable {name} is not set", err=True)
        raise typer.Exit(2)
    return value


@channels_app.command("set")
def channels_set(
    tenant: TenantArg,
    support_email: Annotated[
        str | None, typer.Option(help="The address customers write to (inbound mail).")
    ] = None,
    mail_from: Annotated[
        str | None, typer.Option(help="From of answers (default: support email).")
    ] = None,
    mailgun_signing_key_env: Annotated[
        str | None, typer.Option(help="NAME of the variable holding Mailgun's signing key.")
    ] = None,
    sendgrid_public_key: Annotated[
        str | None, typer.Option(help="SendGrid's signed-webhook verification key (public).")
    ] = None,
    twilio_account_sid: Annotated[
        str | None, typer.Option(help="Twilio account SID (AC...).")
    ] = None,
    twilio_auth_token_env: Annotated[
        str | None, typer.Option(help="NAME of the variable holding the Twilio auth token.")
    ] = None,
    sms_number: Annotated[str | None, typer.Option(help="The tenant's SMS number, E.164.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Set some of a tenant's channel fields; prints the result (no secrets)."""
    from sqlalchemy.exc import IntegrityError

    from supportflow.tenants.channels import configure_channels

    fields = {
        "support_email": support_email,
        "mail_from": mail_from,
        "mailgun_signing_key": _from_env(mailgun_signing_key_env),
        "sendgrid_public_key": sendgrid_public_key,
        "twilio_account_sid": twilio_account_sid,
        "twilio_auth_token": _from_env(twilio_auth_token_env),
        "sms_number": sms_number,
    }
    settings = load_settings(data_dir)
    keyring = open_keyring(settings)
    engine, sessions, _ = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        configure_channels(
            sessions, keyring, tenant_id, **{k: v for k, v in fields.items() if v is not None}
        )
        view = _view(sessions, keyring, tenant_id)
    except IntegrityError:
        typer.echo("error: that address or number belongs to another tenant", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(json.dumps(view))


@channels_app.command("show")
def channels_show(tenant: TenantArg, data_dir: DataDir = None) -> None:
    """Print a tenant's channels: addresses, and whether each secret is set."""
    keyring = open_keyring(load_settings(data_dir))
    engine, sessions, _ = open_sessions(data_dir)
    try:
        view = _view(sessions, keyring, resolve_tenant_id(sessions, tenant))
    finally:
        engine.dispose()
    typer.echo(json.dumps(view))


def _view(sessions: sessionmaker[Session], keyring: KeyRing, tenant_id: str) -> dict[str, object]:
    from supportflow.tenants.channels import channel_config

    c = channel_config(sessions, keyring, tenant_id)
    assert c is not None
    return {
        "tenant_id": tenant_id,
        "support_email": c.support_email,
        "mail_from": c.reply_from,
        "mailgun_signing_key_set": c.mailgun_signing_key is not None,
        "sendgrid_public_key_set": c.sendgrid_public_key is not None,
        "twilio_account_sid": c.twilio_account_sid,
        "twilio_auth_token_set": c.twilio_auth_token is not None,
        "sms_number": c.sms_number,
    }
