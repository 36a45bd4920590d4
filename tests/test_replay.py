"""Every recorded CustomerWorkflow history must replay on the current code: a workflow
change that breaks determinism for running conversations fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from supportflow.worker import workflows
from tests.helpers import TEST_CONVERTER

HERE = Path(__file__).parent / "histories"
HISTORIES = sorted(p for p in HERE.glob("*.json") if p.name != "workflow_ids.json")
# The workflow id each recording ran under (recorded since v8); older ones replay under their
# file name, which they never depended on.
IDS: dict[str, str] = json.loads((HERE / "workflow_ids.json").read_text("utf-8"))


def test_there_are_recorded_histories() -> None:
    assert HISTORIES, "tests/histories is empty: run python -m tests.record_histories"
    version = {p.stem: int(re.search(r"-v(\d+)", p.stem).group(1)) for p in HISTORIES}  # type: ignore[union-attr]
    newest = max(version.values())
    unnamed = [stem for stem, v in version.items() if v == newest and stem not in IDS]
    assert not unnamed, f"recordings without their workflow id in workflow_ids.json: {unnamed}"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(IDS.get(path.stem, path.stem), path.read_text("utf-8"))
    # The codec converter reads both: histories recorded before encryption (plain payloads
    # pass through) and encrypted ones recorded with the test key.
    replayer = Replayer(workflows=workflows(), data_converter=TEST_CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
