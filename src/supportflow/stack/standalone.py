"""The parts alone, for production: a worker process or an API process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

import uvicorn
from temporalio.client import Client

from supportflow.api.server import api_server_config
from supportflow.asgi_server import EmbeddedServer
from supportflow.crypto.keyring import KeyRing, KeyRingError, load_keyring
from supportflow.settings import Settings
from supportflow.temporal.client import (
    NamespaceNotFound,
    TemporalUnreachable,
    connect_with_retry,
    require_namespace,
)
from supportflow.worker import Queue, build_workers, run_workers
from supportflow.worker_stall import STALL_EXIT_CODE, WorkerStalled

log = logging.getLogger("supportflow")

# Exit codes a supervisor can tell apart (sysexits.h): Temporal not there, or misconfigured.
EX_UNAVAILABLE = 69
EX_CONFIG = 78


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


def exit_stalled(stalled: WorkerStalled) -> NoReturn:
    """End this process at once: a stalled worker's shutdown would wait forever for slots
    it cannot give back, and its threads would hold the interpreter open. Whatever
    supervises the process starts a fresh one (supportflow/worker_stall.py)."""
    log.critical(
        "worker stalled, exiting with %d so a fresh process takes over: %s",
        STALL_EXIT_CODE,
        stalled,
    )
    logging.shutdown()
    sys.stderr.flush()
    os._exit(STALL_EXIT_CODE)


def _keyring(settings: Settings) -> KeyRing:
    # Production processes never make keys of their own: a worker with a key nobody else
    # has would write history no other process could read. Keys are configured, or fail.
    try:
        return load_keyring(settings)
    except KeyRingError as err:
        raise SystemExit(f"supportflow: {err}") from err


async def _reach_temporal(settings: Settings, keyring: KeyRing, stop: asyncio.Event) -> Client:
    """A client on the configured namespace, or exit saying why in one line: 69 when
    Temporal did not answer in time (retried with back-off), 78 when it has no such
    namespace (retrying cannot help); 0 when asked to stop while still trying."""

    async def reach() -> Client:
        client = await connect_with_retry(settings, keyring=keyring)
        await require_namespace(client, settings)
        return client

    reaching = asyncio.create_task(reach())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([reaching, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not reaching.done():
        reaching.cancel()
        await asyncio.gather(reaching, return_exceptions=True)
        log.info("stopped while waiting for Temporal at %s", settings.temporal_address)
        raise SystemExit(0)
    try:
        return reaching.result()
    except TemporalUnreachable as err:
        log.critical("%s", err)
        raise SystemExit(EX_UNAVAILABLE) from None
    except NamespaceNotFound as err:
        log.critical("%s", err)
        raise SystemExit(EX_CONFIG) from None


async def run_worker(settings: Settings, queues: Sequence[Queue]) -> None:
    stop = _stop_on_signals()
    client = await _reach_temporal(settings, _keyring(settings), stop)
    async with build_workers(client, settings, queues) as workers:
        log.info(
            "worker ready: %s on %s/%s",
            ",".join(queues),
            settings.temporal_address,
            settings.temporal_namespace,
        )
        try:
            await run_workers(workers, stop)
        except WorkerStalled as stalled:
            exit_stalled(stalled)


async def run_api(settings: Settings) -> None:
    if "management_autostart" not in settings.model_fields_set:
        # A production API starts each tenant's management agent (issue 14) unless
        # SUPPORTFLOW_MANAGEMENT_AUTOSTART=false says another process does.
        settings = settings.model_copy(update={"management_autostart": True})
    # Fail at start, with the reason, not in the lifespan: keys, Temporal, its namespace.
    client = await _reach_temporal(settings, _keyring(settings), _stop_on_signals())
    server = EmbeddedServer(api_server_config(settings, temporal=client))
    _drain_on_signals(server)
    log.info("API on %s", settings.api_url)
    await server.serve()
    log.info("API stopped")


def _drain_on_signals(server: uvicorn.Server) -> None:
    """SIGTERM/SIGINT: uvicorn's graceful shutdown (stop accepting, let the requests in
    flight finish, within the config's ``timeout_graceful_shutdown`` when it sets one), after
    which ``serve`` returns and the process exits 0. A second signal skips the wait.

    Not uvicorn's own handlers: they raise the signal again once the server has stopped, so
    the process would end by SIGTERM (status 143), which supervisors read as a crash."""
    loop = asyncio.get_running_loop()

    def stop() -> None:
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
