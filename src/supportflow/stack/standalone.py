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

from supportflow.api.server import api_server_config
from supportflow.asgi_server import EmbeddedServer
from supportflow.crypto.keyring import KeyRing, KeyRingError, load_keyring
from supportflow.settings import Settings
from supportflow.temporal.client import connect
from supportflow.worker import Queue, build_workers, run_workers
from supportflow.worker_stall import STALL_EXIT_CODE, WorkerStalled

log = logging.getLogger("supportflow")


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


async def run_worker(settings: Settings, queues: Sequence[Queue]) -> None:
    stop = _stop_on_signals()
    client = await connect(settings, keyring=_keyring(settings))
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
    _keyring(settings)  # fail at start, with the reason, not in the lifespan
    server = EmbeddedServer(api_server_config(settings))
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
