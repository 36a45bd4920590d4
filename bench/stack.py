"""Shared by the benchmarks: start `supportflow up` as a user would, and percentiles."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO

from supportflow.identity.tokens import sign_identity_token
from supportflow.sim.memory import children
from supportflow.sim.stack import READY, up_environment

# Long enough for the longest benchmark run (10,000 open conversations).
TOKEN_TTL_S = 6 * 3600


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def start_stack(
    data_dir: Path, log: IO[str], workers: int = 1
) -> tuple[subprocess.Popen[str], float, str, str, str, str, str]:
    """(process, seconds to ready, API URL, Temporal address, demo chat key, store URL,
    inbound SMTP host:port).

    The stack believes our X-Forwarded-For (sim/stack.py): each benchmark customer comes
    from an address of its own (`sim.client.shopper_address`), so the rate limits run on
    every message but apply per customer, as in production."""
    env, temporal = up_environment(data_dir, {"SUPPORTFLOW_EMBEDDED_WORKERS": str(workers)})
    # A benchmark customer sends hundreds of turns a minute, far past what a person types:
    # the limiter stays on the path (its cost is part of every figure), with room for the load.
    for limit in ("CHAT_PER_VISITOR", "CHAT_PER_ADDRESS", "CHAT_PER_TENANT", "POLL_PER_VISITOR"):
        env.setdefault(f"SUPPORTFLOW_RATE_LIMIT_{limit}", "1000000/minute")
    # The workflow sandbox re-imports the workflow module for every conversation it loads;
    # without bytecode on disk that is a fresh compile each time (~5 ms of worker CPU). This
    # environment sets PYTHONDONTWRITEBYTECODE; a user's Python writes bytecode, so do that.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    exe = str(Path(sys.executable).parent / "supportflow")
    start = time.perf_counter()
    proc = subprocess.Popen([exe, "up"], env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        m = READY.search(line)
        if m:
            ready_s = time.perf_counter() - start
            keys = json.loads((data_dir / "demo-tenant.json").read_text())
            smtp = re.search(r"smtp=(\S+)", line)
            # Keep reading stdout: a full pipe would block whatever writes to it next.
            threading.Thread(target=_copy, args=(proc.stdout, log), daemon=True).start()
            return (
                proc,
                ready_s,
                m.group(2),
                temporal,
                keys["chat_key"],
                m.group(3),
                smtp.group(1) if smtp else "",
            )
    raise RuntimeError("supportflow up exited before ready")


def _copy(stream: IO[str], log: IO[str]) -> None:
    for line in stream:
        log.write(line)


def identity_tokens(data_dir: Path) -> Callable[[str], str]:
    """Identity tokens for the demo tenant's shoppers, by email: what a store's own login
    gives its chat widget, signed with the tenant's identity secret from demo-tenant.json.
    One per shopper for the whole run (a widget's page session); a message carrying it is
    that customer's, verified."""
    secret = json.loads((data_dir / "demo-tenant.json").read_text())["identity_secret"]

    @cache
    def token(email: str) -> str:
        return sign_identity_token(secret, email=email, ttl_seconds=TOKEN_TTL_S)

    return token


def stop_stack(proc: subprocess.Popen[str], timeout: float = 120) -> None:
    """SIGTERM, as a user's Ctrl-C would; if it has not stopped in `timeout` seconds, kill
    it and the dev server it started, so a hung stack never outlives the benchmark."""
    kids = children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"supportflow up did not stop within {timeout:.0f} s; killing it", flush=True)
        for pid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.kill()
        proc.wait()


@dataclass(frozen=True)
class Stack:
    proc: subprocess.Popen[str]
    ready_s: float
    api: str
    temporal: str
    chat_key: str
    store: str
    # Identity tokens for the demo tenant's shoppers (identity_tokens).
    tokens: Callable[[str], str]
    # The stack's data directory (demo-tenant.json: API key, demo operator's token).
    data_dir: Path | None = None
    # The inbound SMTP server for tenants' support addresses, host:port.
    smtp: str = ""


@contextlib.contextmanager
def fresh_stack(stop_timeout: float = 120, workers: int = 1) -> Iterator[Stack]:
    """`supportflow up` on a fresh temporary data directory (its log beside it), stopped
    (stop_stack) on the way out, whatever the benchmark did; ``workers`` worker processes."""
    with tempfile.TemporaryDirectory() as tmp, (Path(tmp) / "up.log").open("w") as log:
        data_dir = Path(tmp) / "data"
        proc, ready_s, api, temporal, chat_key, store, smtp = start_stack(data_dir, log, workers)
        try:
            yield Stack(
                proc,
                ready_s,
                api,
                temporal,
                chat_key,
                store,
                identity_tokens(data_dir),
                data_dir,
                smtp,
            )
        finally:
            stop_stack(proc, stop_timeout)
