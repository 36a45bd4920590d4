"""Shared by the benchmarks: start `supportflow up` as a user would, and percentiles."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from tests.helpers import free_port

READY = re.compile(r"supportflow ready in ([\d.]+)s\s+api=(\S+)\s+store=(\S+)")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def start_stack(
    data_dir: Path, log: IO[str]
) -> tuple[subprocess.Popen[str], float, str, str, str, str]:
    """(process, seconds to ready, API URL, Temporal address, demo chat key, store URL)."""
    temporal = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "SUPPORTFLOW_DATA_DIR": str(data_dir),
        "SUPPORTFLOW_TEMPORAL_ADDRESS": temporal,
        "SUPPORTFLOW_TEMPORAL_UI_PORT": str(free_port()),
        "SUPPORTFLOW_API_PORT": str(free_port()),
        "SUPPORTFLOW_STORE_PORT": str(free_port()),
        "SUPPORTFLOW_LOG_LEVEL": "WARNING",
    }
    exe = str(Path(sys.executable).parent / "supportflow")
    start = time.perf_counter()
    proc = subprocess.Popen([exe, "up"], env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        m = READY.search(line)
        if m:
            ready_s = time.perf_counter() - start
            keys = json.loads((data_dir / "demo-tenant.json").read_text())
            return proc, ready_s, m.group(2), temporal, keys["chat_key"], m.group(3)
    raise RuntimeError("supportflow up exited before ready")
