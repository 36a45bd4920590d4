"""Count Temporal Cloud billable actions in workflow histories.

  .venv/bin/python -m bench.billable_actions tests/histories/cancel_saga-v3-*.json

Counted from the event history by Temporal Cloud's published action types: a workflow start
(client start, continue-as-new, child), each activity scheduled plus each retry, each timer,
signal, accepted update, local-activity marker, child-workflow start, external signal and
search-attribute upsert. Queries, rejected updates and heartbeats are billed but leave no
history event, so this is a floor; patch (version) markers are not counted.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

_ONE_EACH = {
    "workflowExecutionStartedEventAttributes": "workflow started",
    "activityTaskScheduledEventAttributes": "activity",
    "timerStartedEventAttributes": "timer",
    "workflowExecutionSignaledEventAttributes": "signal",
    "workflowExecutionUpdateAcceptedEventAttributes": "update",
    "startChildWorkflowExecutionInitiatedEventAttributes": "child workflow",
    "signalExternalWorkflowExecutionInitiatedEventAttributes": "signal external",
    "upsertWorkflowSearchAttributesEventAttributes": "search attributes",
}


def count(history: dict[str, Any]) -> Counter[str]:
    actions: Counter[str] = Counter()
    for event in history["events"]:
        for key, name in _ONE_EACH.items():
            if key in event:
                actions[name] += 1
        started = event.get("activityTaskStartedEventAttributes")
        if started and int(started.get("attempt", 1)) > 1:
            actions["activity retry"] += int(started["attempt"]) - 1
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker.get("markerName") == "core_local_activity":
            actions["local activity"] += 1
    return actions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("histories", nargs="+", type=Path, help="history JSON files (one run each)")
    args = parser.parse_args()
    total: Counter[str] = Counter()
    for path in args.histories:
        actions = count(json.loads(path.read_text("utf-8")))
        total += actions
        print(f"{path.name}: {sum(actions.values())} actions  {dict(sorted(actions.items()))}")
    print(f"total: {sum(total.values())} actions  {dict(sorted(total.items()))}")


if __name__ == "__main__":
    main()
