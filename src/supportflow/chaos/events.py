"""The chaos run's log: what was done to the stack, and when (seconds since the run began)."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger("supportflow.chaos")


@dataclass(frozen=True)
class ChaosEvent:
    at_s: float
    kind: str  # kill, worker-start, worker-exit, temporal-stop, temporal-start, store-faults
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EventLog:
    started: float = field(default_factory=time.monotonic)
    events: list[ChaosEvent] = field(default_factory=list)

    def add(self, kind: str, detail: str) -> ChaosEvent:
        event = ChaosEvent(round(time.monotonic() - self.started, 3), kind, detail)
        self.events.append(event)
        log.info("t+%7.2fs %-15s %s", event.at_s, kind, detail)
        return event

    def count(self, kind: str) -> int:
        return sum(1 for e in self.events if e.kind == kind)
