"""Billable actions counted from recorded histories by Temporal Cloud's published rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from supportflow.temporal.billable import count_actions, total

HISTORIES = Path(__file__).parent / "histories"


def _history(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HISTORIES / name).read_text("utf-8"))
    return data


def test_ordinary_activities_count_one_each_and_patch_upserts_are_exempt() -> None:
    # Recorded before local activities: every read and reply was an activity of its own.
    actions = count_actions(_history("cancel_saga-v4-run0109.json"))
    assert actions["activity"] == 14
    assert actions["update"] == 3 and actions["workflow started"] == 1
    # The run has TemporalChangeVersion upserts (from workflow.patched): not billed.
    assert "search attributes" not in actions


def test_local_activities_of_one_workflow_task_count_once() -> None:
    history = _history("case_timeout-v5-run0044.json")
    markers = [e for e in history["events"] if "markerRecordedEventAttributes" in e]
    tasks = {e["markerRecordedEventAttributes"]["workflowTaskCompletedEventId"] for e in markers}
    actions = count_actions(history)
    assert len(markers) > len(tasks)  # several local activities shared a workflow task
    assert actions["local activities (per workflow task)"] == len(tasks)
    assert actions["timer"] == 2 and "activity" not in actions


def test_other_upserts_and_retries_are_billed() -> None:
    history = {
        "events": [
            {"eventId": "1", "workflowExecutionStartedEventAttributes": {}},
            {
                "eventId": "5",
                "upsertWorkflowSearchAttributesEventAttributes": {
                    "searchAttributes": {"indexedFields": {"CustomerTier": {}}}
                },
            },
            {
                "eventId": "6",
                "upsertWorkflowSearchAttributesEventAttributes": {
                    "searchAttributes": {"indexedFields": {"TemporalChangeVersion": {}}}
                },
            },
            {"eventId": "7", "activityTaskScheduledEventAttributes": {}},
            {"eventId": "8", "activityTaskStartedEventAttributes": {"attempt": 3}},
        ]
    }
    actions = count_actions(history)
    assert actions == {
        "workflow started": 1,
        "search attributes": 1,
        "activity": 1,
        "activity retry": 2,
    }
    assert sum(total([history, history]).values()) == 2 * sum(actions.values())
