"""Temporal Cloud billable actions, counted from a workflow's event history.

The rules are Temporal Cloud's published ones (docs.temporal.io/cloud/actions):

- a workflow start (client start, continue-as-new, child start) is one action;
- each activity start and each retry is one action;
- all local activities of one workflow task are one action together (Cloud counts the
  ``RecordMarker`` commands of a workflow task once); we count every workflow task that
  recorded a marker, patch markers included, so this errs high;
- each timer started, signal received or sent, accepted update, child workflow (two: the
  start and the execution), and search-attribute upsert — except upserts of only the
  ``TemporalChangeVersion`` attribute that ``workflow.patched`` writes, which are exempt.

Queries, rejected updates and activity heartbeats are billed but leave no event in history,
so a count from history is a floor for those.

Works on histories as JSON dicts (``WorkflowHistory.to_json_dict()`` or ``temporal workflow
show --output json``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["count_actions", "total"]

_ONE_EACH = {
    "workflowExecutionStartedEventAttributes": "workflow started",
    "activityTaskScheduledEventAttributes": "activity",
    "timerStartedEventAttributes": "timer",
    "workflowExecutionSignaledEventAttributes": "signal",
    "workflowExecutionUpdateAcceptedEventAttributes": "update",
    "signalExternalWorkflowExecutionInitiatedEventAttributes": "signal external",
}
_CHANGE_VERSION = "TemporalChangeVersion"


def count_actions(history: Mapping[str, Any]) -> Counter[str]:
    """Billable actions of one run's history, by kind."""
    actions: Counter[str] = Counter()
    marker_tasks: set[str] = set()
    for event in history.get("events", []):
        for key, name in _ONE_EACH.items():
            if key in event:
                actions[name] += 1
        if "startChildWorkflowExecutionInitiatedEventAttributes" in event:
            actions["child workflow"] += 2
        started = event.get("activityTaskStartedEventAttributes")
        if started and int(started.get("attempt", 1)) > 1:
            # Only the last attempt's start is written: earlier attempts are its retries.
            actions["activity retry"] += int(started["attempt"]) - 1
        marker = event.get("markerRecordedEventAttributes")
        if marker is not None:
            marker_tasks.add(str(marker.get("workflowTaskCompletedEventId", event.get("eventId"))))
        upsert = event.get("upsertWorkflowSearchAttributesEventAttributes")
        if upsert is not None:
            fields = (upsert.get("searchAttributes") or {}).get("indexedFields") or {}
            if set(fields) - {_CHANGE_VERSION}:
                actions["search attributes"] += 1
    if marker_tasks:
        actions["local activities (per workflow task)"] = len(marker_tasks)
    return actions


def total(histories: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Actions summed over several runs (a continue-as-new chain, or many conversations)."""
    out: Counter[str] = Counter()
    for history in histories:
        out += count_actions(history)
    return out
