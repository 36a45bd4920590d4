"""The demo store as its own process, admin endpoints on (faults, events, invariants).

  python -m supportflow.chaos.store_process --db store.db --port 8401

The chaos run starts the store this way so the store is a separate service, as in
production, and drives its faults through ``/admin/faults``. Never expose it beyond loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path

from supportflow.demo_store.server import StoreServer
from supportflow.logs import setup_logging


async def _serve(db: Path, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = StoreServer(db, host, port, admin=True, graceful_shutdown_s=1)
    await server.start()
    waiting = asyncio.create_task(server.wait())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    await server.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    setup_logging(args.log_level)
    asyncio.run(_serve(args.db, args.host, args.port))


if __name__ == "__main__":
    main()
