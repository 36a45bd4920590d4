"""`supportflow operators ...`: the merchant's people. Create (prints the first password and
a personal API token, once), list, disable, issue and revoke personal tokens.

Output is JSON, like `supportflow tenants create`. Secrets are printed, never logged.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

import typer

from supportflow.cli.common import DataDir, open_sessions, resolve_tenant_id

if TYPE_CHECKING:
    from supportflow.operators.accounts import OperatorView, TokenView

operators_app = typer.Typer(
    no_args_is_help=True,
    help="A tenant's operators (support staff): create, list, disable, personal tokens.",
)

# Who the audit trail will name for changes made here.
_ACTOR = "cli"

TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant id (t_...) or name.")]
OperatorOpt = Annotated[str, typer.Option("--operator", help="The operator's id (op_...).")]


def _when(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _operator(v: OperatorView) -> dict[str, Any]:
    return {
        "operator_id": v.operator_id,
        "tenant_id": v.tenant_id,
        "email": v.email,
        "role": v.role.value,
        "approval_limit": None if v.approval_limit is None else str(v.approval_limit),
        "created_at": _when(v.created_at),
        "disabled_at": _when(v.disabled_at),
        "status": "disabled" if v.disabled_at else "active",
    }


def _token(v: TokenView) -> dict[str, Any]:
    return {
        "token_id": v.token_id,
        "operator_id": v.operator_id,
        "last4": v.last4,
        "created_at": _when(v.created_at),
        "last_used_at": _when(v.last_used_at),
        "revoked_at": _when(v.revoked_at),
        "status": "revoked" if v.revoked_at else "active",
    }


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _limit(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise _fail(f"--approval-limit must be an amount like 50 or 49.99, not {text!r}") from None


@operators_app.command("create")
def operators_create(
    tenant: TenantOpt,
    email: Annotated[str, typer.Option("--email", help="The operator's email (their login).")],
    role: Annotated[str, typer.Option("--role", help="agent, supervisor or admin.")],
    approval_limit: Annotated[
        str | None,
        typer.Option(
            "--approval-limit",
            help="Largest amount this operator may approve (agents, supervisors).",
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Create an operator; prints its id, a first password and a personal API token (once)."""
    from supportflow.operators import accounts

    limit = _limit(approval_limit)
    engine, sessions, _ = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        made = accounts.create_operator(sessions, tenant_id, email, role, limit, actor=_ACTOR)
    except (accounts.InvalidOperator, accounts.OperatorExists) as err:
        raise _fail(str(err)) from None
    finally:
        engine.dispose()
    typer.echo(
        json.dumps(
            {
                **_operator(made.operator),
                "password": made.password,
                "token_id": made.token_id,
                "api_token": made.api_token,
            }
        )
    )


@operators_app.command("list")
def operators_list(tenant: TenantOpt, data_dir: DataDir = None) -> None:
    """The tenant's operators (never a password or token)."""
    from supportflow.operators import accounts

    engine, sessions, _ = open_sessions(data_dir)
    try:
        tenant_id = resolve_tenant_id(sessions, tenant)
        views = accounts.list_operators(sessions, tenant_id)
    finally:
        engine.dispose()
    typer.echo(json.dumps({"tenant_id": tenant_id, "operators": [_operator(v) for v in views]}))


@operators_app.command("disable")
def operators_disable(operator: OperatorOpt, data_dir: DataDir = None) -> None:
    """Disable an operator: its console sessions and tokens stop working at once."""
    from supportflow.operators import accounts

    engine, sessions, _ = open_sessions(data_dir)
    try:
        view, _change = accounts.disable_operator(sessions, None, operator, actor=_ACTOR)
    except accounts.UnknownOperator as err:
        raise _fail(str(err)) from None
    finally:
        engine.dispose()
    typer.echo(json.dumps(_operator(view)))


@operators_app.command("token")
def operators_token(operator: OperatorOpt, data_dir: DataDir = None) -> None:
    """Issue a new personal API token (printed once); the operator's others keep working."""
    from supportflow.operators import accounts

    engine, sessions, _ = open_sessions(data_dir)
    try:
        issued = accounts.issue_token(sessions, None, operator, actor=_ACTOR)
    except (accounts.UnknownOperator, accounts.OperatorDisabled) as err:
        raise _fail(str(err)) from None
    finally:
        engine.dispose()
    typer.echo(json.dumps({**_token(issued.token), "api_token": issued.api_token}))


@operators_app.command("revoke-token")
def operators_revoke_token(
    token_id: Annotated[str, typer.Option("--token-id", help="The token's id (ot_...).")],
    data_dir: DataDir = None,
) -> None:
    """End one personal token at once (idempotent)."""
    from supportflow.operators import accounts

    engine, sessions, _ = open_sessions(data_dir)
    try:
        view, _change = accounts.revoke_token(sessions, None, token_id, actor=_ACTOR)
    except accounts.UnknownToken as err:
        raise _fail(str(err)) from None
    finally:
        engine.dispose()
    typer.echo(json.dumps(_token(view)))
