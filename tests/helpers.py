"""Small shared test utilities."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import socket
import subprocess
import sys
from base64 import b64encode
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import httpx
import uvicorn
from fastapi import APIRouter, FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from supportflow.api.state import ApiState
from supportflow.crypto.codec import data_converter
from supportflow.crypto.keyring import load_keyring, parse_keys_setting
from supportflow.mail.maildir_reader import list_messages
from supportflow.settings import Settings
from supportflow.workflows.contract import VerifiedIdentity

VENV_BIN = Path(sys.executable).parent
TEMPORAL_CLI = str(VENV_BIN / "temporal")
TEMPORAL_TEST_SERVER = str(VENV_BIN / "temporal-test-server")
SUPPORTFLOW = str(VENV_BIN / "supportflow")

# --- encryption at rest: the suite runs with the payload codec on, as production does ------
# A fixed test key (derived, not random) so histories recorded by tests stay readable.
_TEST_KEY = hashlib.sha256(b"supportflow test key 1").digest()
TEST_ENCRYPTION_KEYS = "test-k1:" + b64encode(_TEST_KEY).decode()
TEST_KEYRING = parse_keys_setting(TEST_ENCRYPTION_KEYS)
TEST_CONVERTER = data_converter(TEST_KEYRING)
# --- end encryption at rest ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- verified identity: how tests speak as a known customer ----------------------------------
def verified(email: str) -> VerifiedIdentity:
    """A sender the API verified with a signed identity token for this email (what the API
    puts on an InboundMessage after checking the token)."""
    return VerifiedIdentity(email=email, method="token")


def read_code(maildir: Path, email: str) -> str:
    """The newest sign-in code mailed to ``email`` (from the real SMTP server's Maildir)."""
    found = list_messages(maildir, to=email)
    assert found, f"no mail for {email}"
    match = re.search(r"\b(\d{6})\b", found[0]["text"])
    assert match, found[0]["text"]
    return match.group(1)


def mails_to(maildir: Path, email: str) -> int:
    return len(list_messages(maildir, to=email))


# --- end verified identity --------------------------------------------------------------------


async def store_order(settings: Settings, order_id: str) -> dict[str, object]:
    """An order as the store has it now (read over the store's HTTP API)."""
    async with httpx.AsyncClient(base_url=settings.resolved_store_url) as http:
        r = await http.get(f"/orders/{order_id.replace('#', '%23')}")
        r.raise_for_status()
        data: dict[str, object] = r.json()
        return data


@contextlib.asynccontextmanager
async def _serving(server: uvicorn.Server) -> AsyncIterator[None]:
    """``server`` running until the block ends; a startup error is raised here."""
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # the startup error, raised here
            await asyncio.sleep(0.02)
        yield
    finally:
        # Also when the test failed: a server left running would hang the session.
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def serve_api(
    settings: Settings, temporal: Client, *, http_timeout: float = 30
) -> AsyncIterator[httpx.AsyncClient]:
    """The real API, configured as `up` serves it (uvicorn on loopback, settings.api_port),
    and an HTTP client for it."""
    from supportflow.api.server import api_server_config

    async with (
        _serving(uvicorn.Server(api_server_config(settings, temporal=temporal))),
        httpx.AsyncClient(base_url=settings.api_url, timeout=http_timeout) as http,
    ):
        yield http


@contextlib.asynccontextmanager
async def serve_router(
    router: APIRouter,
    settings: Settings,
    sessions: sessionmaker[Session],
    **app_state: object,
) -> AsyncIterator[str]:
    """One API router alone on uvicorn (loopback, a free port), with the state routers read
    and ``app_state`` set on the app; yields its base URL. For merchant routers, which never
    talk to Temporal."""
    app = FastAPI()
    app.include_router(router)
    app.state.supportflow = ApiState(
        settings=settings,
        sessions=sessions,
        temporal=cast(Client, object()),
        keyring=load_keyring(settings, create=True),
    )
    for name, value in app_state.items():
        setattr(app.state, name, value)
    port = free_port()
    async with _serving(
        uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    ):
        yield f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def running_workers(temporal: Client, settings: Settings) -> AsyncIterator[None]:
    """All workers for these settings' task queues, stopped (gracefully) on the way out."""
    from supportflow.worker import build_workers

    async with build_workers(temporal, settings) as workers:
        tasks = [asyncio.create_task(w.run()) for w in workers]
        try:
            yield
        finally:
            for w in workers:
                await w.shutdown()
            await asyncio.gather(*tasks)


def run_tenants_cli(
    database_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`supportflow tenants ...` as a merchant runs it, against this database. Identity
    secrets are sealed with the app's keys: the suite's, never a key file that happens to
    sit in the working directory."""
    return subprocess.run(
        [SUPPORTFLOW, "tenants", *args],
        env={
            **os.environ,
            "SUPPORTFLOW_DATABASE_URL": database_url,
            "SUPPORTFLOW_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextlib.contextmanager
def fresh_postgres_database(base: str) -> Iterator[str]:
    """A new, empty database on the Postgres server of ``base`` (a URL), dropped after."""
    import uuid

    name = "sf_test_" + uuid.uuid4().hex[:10]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
