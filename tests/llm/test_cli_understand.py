"""`supportflow understand` runs the engine SUPPORTFLOW_MODEL names (it used to run the local
engine whatever the setting). The command runs as a real process; the LLM is
tests/llm/standin.py, a loopback HTTP server speaking the OpenAI wire format (no real model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from supportflow.understanding.contract import Understanding
from tests.llm.helpers import answer
from tests.llm.standin import LLAMA_CPP_PYTHON, StandIn, structured_mode

SUPPORTFLOW = str(Path(sys.executable).with_name("supportflow"))


def run(tmp_path: Path, stdin: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTFLOW_")}
    # cwd: a directory without a .env file, so only these settings apply.
    return subprocess.run(
        [SUPPORTFLOW, "understand", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=clean | env,
        cwd=tmp_path,
        timeout=120,
    )


def test_understand_uses_the_configured_llm(standin: StandIn, tmp_path: Path) -> None:
    standin.script.refuses = LLAMA_CPP_PYTHON
    standin.script.answer = answer(intent="track_order", confidence=1.0)
    out = run(
        tmp_path,
        "has my order shipped\nwhere is my parcel\n",
        SUPPORTFLOW_MODEL="openai:qwen2.5-1.5b-instruct",
        SUPPORTFLOW_LLM_BASE_URL=f"{standin.url}/v1",
    )
    assert out.returncode == 0, out.stderr
    lines = [Understanding.model_validate(json.loads(x)) for x in out.stdout.splitlines()]
    assert len(lines) == 2
    assert all(u.engine == "openai:qwen2.5-1.5b-instruct" for u in lines)
    # Warmed up first (the mode found on the neutral message), then one request per message.
    bodies = [r.body for r in standin.received]
    assert [structured_mode(b) for b in bodies] == ["json_schema", "json_object"] + [
        "json_object"
    ] * 2
    assert "\nhello\n" in bodies[0]["messages"][1]["content"]
    assert "openai:qwen2.5-1.5b-instruct: 2 messages" in out.stderr


def test_understand_falls_back_and_says_so(standin: StandIn, tmp_path: Path) -> None:
    standin.script.status = 503
    out = run(
        tmp_path,
        "where is my order\n",
        "--budget",
        "2",
        SUPPORTFLOW_MODEL="openai:m",
        SUPPORTFLOW_LLM_BASE_URL=f"{standin.url}/v1",
    )
    assert out.returncode == 0, out.stderr
    (u,) = [Understanding.model_validate(json.loads(x)) for x in out.stdout.splitlines()]
    assert u.engine == "local" and "llm_fallback" in u.flags
    assert "fallback 1" in out.stderr and "HTTP 503" in out.stderr


def test_understand_defaults_to_the_local_engine(standin: StandIn, tmp_path: Path) -> None:
    out = run(tmp_path, "hello\n")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["engine"] == "local"
    assert standin.received == []


def test_an_unknown_engine_is_a_clear_error(tmp_path: Path) -> None:
    out = run(tmp_path, "hello\n", SUPPORTFLOW_MODEL="gpt-4o")
    assert out.returncode == 2
    assert "unknown understanding engine" in out.stderr and "'gpt-4o'" in out.stderr
    assert out.stdout == ""
