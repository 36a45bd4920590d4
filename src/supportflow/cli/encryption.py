"""`supportflow keys ...` and `supportflow customers erase`: key rotation and erasure."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from supportflow.cli.common import DataDir, load_settings

encryption_keys_app = typer.Typer(
    no_args_is_help=True, help="Encryption keys (history, sealed secrets)."
)
customers_app = typer.Typer(no_args_is_help=True, help="Customers' data (erasure requests).")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@encryption_keys_app.command("rotate")
def keys_rotate(data_dir: DataDir = None) -> None:
    """Add a new primary key to the key file; old keys stay, so old data still opens.

    Restart workers and the API to start encrypting with it."""
    from supportflow.crypto.keyring import KeyRingError, key_file_path, rotate_key_file

    settings = load_settings(data_dir)
    if settings.encryption_keys is not None:
        raise _fail(
            "keys come from SUPPORTFLOW_ENCRYPTION_KEYS: put a new 'kid:<base64 key>' first "
            "in it and keep the old ones"
        )
    path = key_file_path(settings)
    try:
        new_id = rotate_key_file(path)
    except KeyRingError as err:
        raise _fail(str(err)) from err
    typer.echo(json.dumps({"key_file": str(path), "primary_key_id": new_id}))


@encryption_keys_app.command("codec-token")
def keys_codec_token(
    data_dir: DataDir = None,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Replace it (ends every UI session).")
    ] = False,
) -> None:
    """Print the codec server's token (created in the data dir if missing)."""
    from supportflow.crypto.codec_token import ensure_codec_token

    try:
        typer.echo(ensure_codec_token(load_settings(data_dir), rotate=rotate))
    except ValueError as err:
        raise _fail(str(err)) from err


@customers_app.command("erase")
def customers_erase(
    customer_id: str,
    tenant: Annotated[str, typer.Option("--tenant", help="The customer's tenant id.")],
    data_dir: DataDir = None,
) -> None:
    """Erase a customer: app rows (customer, identities, codes) and every Temporal run of
    its conversation (terminated, then deleted). Prints what was erased, as JSON."""
    from supportflow.crypto.keyring import KeyRingError
    from supportflow.db.engine import make_engine, make_session_factory
    from supportflow.db.migrate import upgrade
    from supportflow.privacy.erase import UnknownCustomer, erase_customer, tenant_exists
    from supportflow.temporal.client import connect

    settings = load_settings(data_dir)
    url = settings.resolved_database_url
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)

    async def run() -> dict[str, object]:
        client = await connect(settings)
        return (await erase_customer(sessions, client, tenant, customer_id)).as_dict()

    try:
        if not tenant_exists(sessions, tenant):
            raise _fail(f"no tenant {tenant!r}")
        report = asyncio.run(run())
    except UnknownCustomer as err:
        raise _fail(str(err)) from err
    except KeyRingError as err:
        raise _fail(str(err)) from err
    except RuntimeError as err:  # the Temporal server cannot be reached
        raise _fail(f"Temporal at {settings.temporal_address}: {err}") from err
    finally:
        engine.dispose()
    typer.echo(json.dumps(report))
