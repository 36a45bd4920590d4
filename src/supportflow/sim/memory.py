"""Resident memory of the stack's processes, sampled from /proc while a run goes on."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from supportflow.sim.model import MemorySample


def rss_bytes(pid: int) -> int | None:
    """VmRSS of a live process (None when it is gone or /proc is not there)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text("ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


def children(pid: int) -> list[int]:
    """Direct children of a process (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text("ascii", errors="replace").rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(stat.parent.name))
    return out


class MemorySampler:
    """Samples every ``interval_s`` until stopped; ``samples`` holds what it saw."""

    def __init__(self, processes: dict[str, int], started: float, interval_s: float = 1.0) -> None:
        self._processes = processes
        self._started = started
        self._interval_s = interval_s
        self.samples: list[MemorySample] = []
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        at = time.monotonic() - self._started
        for name, pid in self._processes.items():
            rss = rss_bytes(pid)
            if rss is not None:
                self.samples.append(MemorySample(at, name, pid, rss))

    async def _loop(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self._interval_s)

    def start(self) -> None:
        if self._processes:
            self._task = asyncio.create_task(self._loop(), name="sim-memory")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sample()
