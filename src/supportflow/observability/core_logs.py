"""The Temporal SDK core's own log lines, through Python's logging (issue 15 item 1).

Left to itself, the core writes its warnings ("Workflow task duration exceeded 5 seconds",
"Potential deadlock detected", "Task not found when completing") straight to the process's
**stdout**, from the thread that runs every workflow's state machine. When stdout is a pipe
nobody reads any more (a supervisor that waited for ``supportflow up``'s ready line, a shell
pipeline, a bench), the pipe fills after ~64 KB, that write blocks, and with it every
workflow task of the worker: the pollers stop, the process looks idle and never recovers.
That was the 10,000-conversation stall at 64 in flight (docs/tuning.md §6, found with a
native stack of the stalled process).

Forwarded, the core's lines are handed to the ``temporalio.core`` logger in batches and go
where every other log line goes (stderr, as text or JSON: Settings.log_format), without ever
blocking the core; stdout carries only what the product prints on purpose.
"""

from __future__ import annotations

import logging

from temporalio.runtime import LogForwardingConfig, LoggingConfig, TelemetryFilter

LOGGER = "temporalio.core"


def core_logging() -> LoggingConfig:
    """Core warnings and errors (other crates: errors) to the ``temporalio.core`` logger."""
    return LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger(LOGGER)),
    )
