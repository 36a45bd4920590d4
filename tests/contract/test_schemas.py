"""The contract's JSON Schema files (sdk/typescript/contract/) match the Python models, and the
models hold what the TypeScript side relies on (issue 16)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from supportflow.contract.custom_actions import (
    CustomActionInput,
    CustomActionResult,
    activity_name,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen_contract.py"
COMMITTED = ROOT / "sdk" / "typescript" / "contract"


def _check(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--dir", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_committed_schemas_match_the_models() -> None:
    run = _check(COMMITTED)
    assert run.returncode == 0, run.stderr


def test_a_drifted_schema_fails_the_check(tmp_path: Path) -> None:
    copy = tmp_path / "contract"
    shutil.copytree(COMMITTED, copy)
    path = copy / "custom_action_input.schema.json"
    schema = json.loads(path.read_text())
    schema["properties"]["idempotency_key"]["maxLength"] = 100
    path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    (copy / "stray.schema.json").write_text("{}\n")
    (copy / "chat_reply.schema.json").unlink()

    run = _check(copy)

    assert run.returncode == 1
    assert "custom_action_input.schema.json differs from the Python models" in run.stderr
    assert "chat_reply.schema.json is missing" in run.stderr
    assert "stray.schema.json is not generated from any model" in run.stderr


def test_activity_names_carry_the_action() -> None:
    assert activity_name("loyalty_balance") == "custom_action.loyalty_balance"


def test_input_rejects_a_bad_action_name_and_extra_fields() -> None:
    good = {"tenant_id": "t_0a1b2c3d4e5f6a7b", "action": "loyalty_balance", "idempotency_key": "k"}
    assert CustomActionInput.model_validate(good).args == {}
    with pytest.raises(ValidationError):
        CustomActionInput.model_validate({**good, "action": "Loyalty-Balance"})
    with pytest.raises(ValidationError):
        CustomActionInput.model_validate({**good, "surprise": 1})


@pytest.mark.parametrize(
    "payload",
    [
        {"ok": True, "error": {"code": "x", "message": "m"}},
        {"ok": False},
        {"ok": False, "error": {"code": "Bad Code", "message": "m"}},
    ],
)
def test_result_needs_an_error_exactly_when_not_ok(payload: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CustomActionResult.model_validate(payload)


def test_result_round_trips() -> None:
    ok = CustomActionResult.model_validate({"ok": True, "data": {"points": 120}})
    assert ok.data == {"points": 120}
    failed = CustomActionResult.model_validate(
        {"ok": False, "error": {"code": "not_a_member", "message": "no loyalty account"}}
    )
    assert failed.error is not None and failed.error.code == "not_a_member"
