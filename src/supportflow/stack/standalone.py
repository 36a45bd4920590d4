"""The parts alone, for production: a worker process or an API process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence

import uvicorn

from supportflow.api.app import create_app
from supportflow.settings import Settings
from supportflow.temporal.client import connect
from supportflow.worker import Queue, build_workers, run_workers

log = logging.getLogger("supportflow")


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def run_worker(settings: Settings, queues: Sequence[Queue]) -> None:
    stop = _stop_on_signals()
    client = await connect(settings)
    async with build_workers(client, settings, queues) as workers:
        log.info(
            "worker ready: %s on %s/%s",
            ",".join(queues),
            settings.temporal_address,
            settings.temporal_namespace,
        )
        await run_workers(workers, stop)


async def run_api(settings: Settings) -> None:
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=settings.api_host,
            port=settings.api_port,
            log_level="warning",
            ws="websockets-sansio",
        )
    )
    log.info("API on %s", settings.api_url)
    await server.serve()
