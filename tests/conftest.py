"""Shared fixtures: real Temporal servers (time-skipping and dev), a real demo store on
loopback, and the app database on SQLite and, when configured, Postgres."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from supportflow.demo_store.server import StoreServer
from supportflow.mail.maildir_server import MaildirServer
from supportflow.settings import Settings
from tests.helpers import (
    TEMPORAL_CLI,
    TEMPORAL_TEST_SERVER,
    TEST_CONVERTER,
    TEST_ENCRYPTION_KEYS,
    free_port,
    fresh_postgres_database,
    running_workers,
)

ENVIRONMENTS = ("local", "time-skipping")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--workflow-environment",
        default="all",
        choices=("all", *ENVIRONMENTS),
        help="Temporal server for workflow tests: the dev server, the time-skipping "
        "test server, or both (default).",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "workflow_env_kind" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--workflow-environment")
        kinds = ENVIRONMENTS if chosen == "all" else (chosen,)
        metafunc.parametrize("workflow_env_kind", kinds, scope="session")


_envs: dict[str, WorkflowEnvironment] = {}


async def _env(kind: str) -> WorkflowEnvironment:
    """Each server starts once per session and is shared; tests isolate by task queue."""
    if kind not in _envs:
        if kind == "local":
            _envs[kind] = await WorkflowEnvironment.start_local(
                data_converter=TEST_CONVERTER,
                dev_server_existing_path=TEMPORAL_CLI,
                port=free_port(),
            )
        else:
            _envs[kind] = await WorkflowEnvironment.start_time_skipping(
                data_converter=TEST_CONVERTER,
                test_server_existing_path=TEMPORAL_TEST_SERVER,
                port=free_port(),
            )
    return _envs[kind]


@pytest.fixture(scope="session")
async def workflow_env(workflow_env_kind: str) -> WorkflowEnvironment:
    """One fixture, two real servers: the Temporal CLI dev server or the Java time-skipping
    test server, both from pinned PyPI packages (nothing is downloaded)."""
    return await _env(workflow_env_kind)


@pytest.fixture
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of its own, for a test that waits hours or days. Not the shared
    one: conversations other tests left waiting have timers that fire when the clock jumps,
    and with no worker left to run them their workflow tasks would hold the clock."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=TEST_CONVERTER,
        test_server_existing_path=TEMPORAL_TEST_SERVER,
        port=free_port(),
    )
    async with env:
        yield env


@pytest.fixture(scope="session")
async def dev_env() -> WorkflowEnvironment:
    """The dev server, for tests of what users meet (API, crash, replay recordings)."""
    return await _env("local")


@pytest.fixture(scope="session", autouse=True)
async def _shutdown_envs() -> AsyncIterator[None]:
    yield
    for env in _envs.values():
        await env.shutdown()


@pytest.fixture(scope="session")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real demo store over HTTP on loopback, with its own SQLite file."""
    yield from _run_store(tmp_path_factory.mktemp("store") / "store.db")


def _run_store(db_path: Path, *, admin: bool = False) -> Iterator[str]:
    """Run the store on its own thread and event loop: a separate service, which blocking
    calls in a test cannot stall."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = StoreServer(db_path, "127.0.0.1", 0, admin=admin)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(120)
    try:
        yield server.url
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _postgres_url() -> str | None:
    url = os.environ.get("SUPPORTFLOW_TEST_POSTGRES_URL")
    if not url and os.environ.get("SUPPORTFLOW_REQUIRE_POSTGRES"):
        raise RuntimeError("SUPPORTFLOW_REQUIRE_POSTGRES is set but no Postgres URL is given")
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty app database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.db'}"
        return
    base = _postgres_url()
    if base is None:
        pytest.skip("Postgres tests need SUPPORTFLOW_TEST_POSTGRES_URL (.ci/run sets it)")
    with fresh_postgres_database(base) as url:
        yield url


# --- verified identity: one real SMTP server for the session; sign-in codes land in its
# Maildir (tests read them with tests.helpers.read_code) ---------------------------------------
@pytest.fixture(scope="session")
async def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MaildirServer]:
    server = MaildirServer(tmp_path_factory.mktemp("mail") / "mail", "127.0.0.1", free_port())
    await server.start()
    yield server
    await server.stop()


# --- end verified identity -------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, store_url: str, smtp_server: MaildirServer) -> Settings:
    """Settings for one test: its own task queues, so tests sharing a server never meet."""
    tag = uuid.uuid4().hex[:8]
    return Settings(
        data_dir=tmp_path,
        store_url=store_url,
        task_queue_agents=f"agents-{tag}",
        task_queue_ai=f"ai-{tag}",
        task_queue_integrations=f"integrations-{tag}",
        model=os.environ.get("SUPPORTFLOW_TEST_MODEL", "local"),
        # Store isolation (issue 9): workflow tests use literal tenant ids with no database
        # row, all on this demo store; the operator's opt-in for every tenant.
        demo_store_tenants="*",
        # Encryption at rest: the key the test servers' clients encrypt with (tests/helpers.py).
        encryption_keys=SecretStr(TEST_ENCRYPTION_KEYS),
        # Verified identity: sign-in codes go to the session's SMTP server.
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_starttls=False,
    )


@pytest.fixture
async def running(workflow_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[None]:
    """All workers for this test's task queues, on the parametrized Temporal server."""
    async with running_workers(workflow_env.client, settings):
        yield
