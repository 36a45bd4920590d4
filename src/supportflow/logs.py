"""Logging set-up: one format for people (text) or one JSON object a line for a log
pipeline (issue 15 item 5), and no PII either way (we log ids, never texts).

A JSON line holds the time (UTC, ISO 8601), level, logger and message, and what is known of
where it was said: the HTTP request's id, the workflow's id and run id (and the activity's
type), the trace and span ids. Those come from *context sources* that the layers which know
them register (``add_context_source``): this module stays at the bottom of the import graph
(every layer uses it, the demo store too) and imports neither the API nor Temporal. Records
made by the SDK's ``workflow.logger`` / ``activity.logger`` carry their own
``temporal_workflow`` / ``temporal_activity`` details, read here as plain attributes.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

ContextSource = Callable[[], Mapping[str, str]]

_sources: list[ContextSource] = []

# The details of the SDK's workflow/activity loggers that are ids (never inputs).
_TEMPORAL_FIELDS = {
    "workflow_id": "workflow_id",
    "run_id": "run_id",
    "workflow_run_id": "run_id",
    "workflow_type": "workflow_type",
    "activity_type": "activity",
    "task_queue": "task_queue",
}


def add_context_source(source: ContextSource) -> None:
    """Add a source of fields for JSON lines (ids only); the same source is added once."""
    if source not in _sources:
        _sources.append(source)


class JsonFormatter(logging.Formatter):
    """One JSON object a line. Never raises: a failing context source is left out."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for attr in ("temporal_workflow", "temporal_activity"):
            details = getattr(record, attr, None)
            if isinstance(details, Mapping):
                for key, name in _TEMPORAL_FIELDS.items():
                    if details.get(key):
                        line.setdefault(name, str(details[key]))
        for source in _sources:
            try:
                for key, value in source().items():
                    line.setdefault(key, value)
            except Exception:
                continue  # a log line must never fail for its context
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = format(span.trace_id, "032x")
            line["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def setup_logging(level: str, fmt: str = "text") -> None:
    """The root logger to stderr, as text or JSON lines (Settings.log_format)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S"
            )
        )
    # As before: a no-op when the root logger has handlers already (tests, a second call).
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # Per-request access logs would carry query strings (visitor ids, keys) into logs.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
