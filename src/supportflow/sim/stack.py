"""Start `supportflow up` in a data directory of its own, as a user would, for one run.

A separate process tree, so the simulator's own CPU and memory stay out of the stack's
figures and the stack's pids are known (the `up` process runs the workers and the API; its
child is the Temporal dev server). The store's /admin routes are on, for the invariants.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from supportflow.mail.maildir import maildir_path
from supportflow.sim.memory import children
from supportflow.sim.model import Target

READY = re.compile(r"supportflow ready in ([\d.]+)s\s+api=(\S+)\s+store=(\S+)")
# The inbound SMTP server for tenants' support addresses, named on the same ready line.
SMTP = re.compile(r"\bsmtp=(\S+)")
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def target_from_data_dir(
    data_dir: Path,
    api_url: str,
    store_url: str,
    temporal_address: str,
    smtp_address: str | None = None,
) -> Target:
    path = data_dir / "demo-tenant.json"
    keys = json.loads(path.read_text("utf-8"))
    if not keys.get("identity_secret"):
        # `up` adds it on its next start; the simulator cannot speak as anyone without it.
        raise RuntimeError(f"{path} has no identity_secret: start `supportflow up` on it once")
    return Target(
        api_url=api_url,
        chat_key=keys["chat_key"],
        api_key=keys["api_key"],
        store_url=store_url,
        temporal_address=temporal_address,
        identity_secret=keys["identity_secret"],
        **channel_fields(data_dir, keys, smtp_address),
    )


def channel_fields(
    data_dir: Path, keys: dict[str, Any], smtp_address: str | None
) -> dict[str, Any]:
    """Target fields for email and SMS customers, from the demo tenant's keys (a data dir
    from before email and SMS has none: then only chat customers can be simulated)."""
    return {
        "tenant_id": keys.get("tenant_id"),
        "support_email": keys.get("support_email"),
        "smtp_address": smtp_address,
        "maildir": maildir_path(data_dir),
        "sms_number": keys.get("sms_number"),
        "twilio_auth_token": keys.get("twilio_auth_token"),
    }


def _temporal_child(pid: int) -> int | None:
    for child in children(pid):
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"temporal" in cmd and b"start-dev" in cmd:
                return child
    return None


def up_environment(
    data_dir: Path, extra_env: dict[str, str] | None = None
) -> tuple[dict[str, str], str]:
    """The environment for a `supportflow up` of its own (data dir, free ports, quiet logs),
    and the Temporal address it will serve. The stack believes the X-Forwarded-For of
    clients on loopback: the simulator and benchmarks name each simulated shopper's address
    there (sim/client.py), so rate limits apply per shopper, not to all of them at once."""
    temporal = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "SUPPORTFLOW_DATA_DIR": str(data_dir),
        "SUPPORTFLOW_TRUSTED_PROXIES": "127.0.0.1",
        "SUPPORTFLOW_TEMPORAL_ADDRESS": temporal,
        "SUPPORTFLOW_TEMPORAL_UI_PORT": str(free_port()),
        "SUPPORTFLOW_API_PORT": str(free_port()),
        "SUPPORTFLOW_STORE_PORT": str(free_port()),
        "SUPPORTFLOW_EMBEDDED_SMTP_PORT": str(free_port()),
        "SUPPORTFLOW_SMTP_INBOUND_PORT": str(free_port()),
        "SUPPORTFLOW_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    return env, temporal


@contextlib.asynccontextmanager
async def embedded_stack(
    data_dir: Path, log_path: Path, extra_env: dict[str, str] | None = None
) -> AsyncIterator[Target]:
    """A fresh `supportflow up` on free ports; stopped (SIGTERM, then SIGKILL) on exit."""
    env, temporal = up_environment(data_dir, {"SUPPORTFLOW_STORE_ADMIN": "1", **(extra_env or {})})
    exe = str(Path(sys.executable).parent / "supportflow")
    with log_path.open("w") as log:
        proc = await asyncio.create_subprocess_exec(
            exe, "up", env=env, stdout=asyncio.subprocess.PIPE, stderr=log
        )
        drain: asyncio.Task[None] | None = None
        try:
            try:
                api_url, store_url, smtp = await asyncio.wait_for(_ready(proc), READY_TIMEOUT_S)
            except RuntimeError as err:
                log.flush()
                text = await asyncio.to_thread(log_path.read_text, "utf-8", "replace")
                tail = text.splitlines()[-15:]
                raise RuntimeError(f"{err}; its log ends:\n" + "\n".join(tail)) from err
            assert proc.stdout is not None
            # Keep reading stdout so the stack never blocks on a full pipe.
            drain = asyncio.create_task(_drain(proc.stdout))
            target = target_from_data_dir(data_dir, api_url, store_url, temporal, smtp)
            yield dataclasses.replace(
                target, temporal_pid=_temporal_child(proc.pid), worker_pids=(proc.pid,)
            )
        finally:
            await _stop(proc)
            if drain is not None:
                drain.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drain


async def _ready(proc: asyncio.subprocess.Process) -> tuple[str, str, str | None]:
    assert proc.stdout is not None
    while line := await proc.stdout.readline():
        text = line.decode("utf-8", "replace")
        m = READY.search(text)
        if m:
            smtp = SMTP.search(text)
            return m.group(2), m.group(3), smtp.group(1) if smtp else None
    raise RuntimeError("supportflow up exited before it was ready (see its log)")


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
