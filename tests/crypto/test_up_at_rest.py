"""`supportflow up` as a user runs it: what a customer types never reaches the disk in clear,
the data dir is private, the UI's codec server decodes for the token holder only, and a
customer can be erased."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tests.helpers import SUPPORTFLOW, TEMPORAL_CLI, free_port
from tests.test_up import READY, _start, _stop

pytestmark = pytest.mark.slow


def _files_containing(root: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits += [f"{path.name}: {n.decode()}" for n in needles if n in data]
    return hits


def _loose_modes(root: Path) -> list[str]:
    loose = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if not path.is_symlink() and mode & 0o077:
            loose.append(f"{path.relative_to(root.parent)} {oct(mode)}")
    return loose


def _temporal_show(address: str, workflow_id: str, *codec: str) -> str:
    done = subprocess.run(
        [TEMPORAL_CLI, "workflow", "show", "--address", address, "-w", workflow_id,
         "--output", "json", *codec],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _payload_texts(history_json: str) -> list[str]:
    """The data of every payload in a history, base64-decoded."""
    texts: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("metadata"), dict) and isinstance(node.get("data"), str):
                texts.append(base64.b64decode(node["data"]).decode("utf-8", errors="replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(history_json))
    return texts


def _erase(data_dir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SUPPORTFLOW, "customers", "erase", *args, "--data-dir", str(data_dir)],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_up_keeps_chat_encrypted_private_and_erasable(tmp_path: Path) -> None:
    temporal = f"127.0.0.1:{free_port()}"
    ui_port = free_port()
    ports = {
        "SUPPORTFLOW_TEMPORAL_ADDRESS": temporal,
        "SUPPORTFLOW_TEMPORAL_UI_PORT": str(ui_port),
        "SUPPORTFLOW_API_PORT": str(free_port()),
        "SUPPORTFLOW_STORE_PORT": str(free_port()),
        "SUPPORTFLOW_EMBEDDED_SMTP_PORT": str(free_port()),
    }
    data_dir = tmp_path / "data"
    marker = "zebra-canary-" + uuid.uuid4().hex[:12]
    card, ssn = "4111111111111111", "078-05-1120"
    canaries = [marker.encode(), card.encode(), ssn.encode()]
    proc, line = _start(data_dir, ports)
    try:
        match = READY.search(line)
        assert match is not None
        api = match.group(1)
        keys = json.loads((data_dir / "demo-tenant.json").read_text())
        r = httpx.post(
            f"{api}/v1/chat/messages",
            headers={"X-Chat-Key": keys["chat_key"]},
            json={
                "visitor_id": "v-" + uuid.uuid4().hex[:8],
                "message_id": "canary-1",
                "text": f"hi, my card is {card} and my SSN is {ssn} ({marker})",
            },
            timeout=60,
        )
        assert r.status_code == 200, r.text
        customer_id = r.json()["customer_id"]
        workflow_id = f"sf/{keys['tenant_id']}/customer/{customer_id}"

        # While it runs (SQLite WAL files included): nothing in clear, nothing readable by others.
        assert _files_containing(data_dir, canaries) == []
        assert _loose_modes(data_dir) == []
        assert stat.S_IMODE((data_dir / "encryption-keys.json").stat().st_mode) == 0o600

        # Temporal's own CLI, as an operator uses it: ciphertext without the codec server,
        # the customer's words through it with the token, and a 401 without the token.
        token = (data_dir / "codec-token").read_text().strip()
        endpoint = ["--codec-endpoint", f"{api}/codec"]
        auth = ["--codec-auth", f"Bearer {token}"]
        decoded = _payload_texts(_temporal_show(temporal, workflow_id, *endpoint, *auth))
        assert any(marker in text for text in decoded)
        plain = _payload_texts(_temporal_show(temporal, workflow_id))
        assert not any(marker in text for text in plain)
        r = httpx.post(f"{api}/codec/decode", json={"payloads": []})
        assert r.status_code == 401
        # The embedded UI decodes through it, and is the one browser origin allowed.
        ui = f"http://127.0.0.1:{ui_port}"
        ui_settings = httpx.get(f"{ui}/api/v1/settings", timeout=10).json()
        assert ui_settings["Codec"]["Endpoint"] == f"{api}/codec"
        pre = httpx.options(
            f"{api}/codec/decode",
            headers={
                "Origin": ui,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace",
            },
        )
        assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == ui

        # Erasure: the customer's rows and every run of its conversation go.
        env = {"SUPPORTFLOW_TEMPORAL_ADDRESS": temporal}
        done = _erase(data_dir, env, customer_id, "--tenant", keys["tenant_id"])
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["workflow_id"] == workflow_id
        assert report["app_rows_deleted"]["customers"] == 1
        assert report["app_rows_deleted"]["identities"] >= 1
        assert report["workflow_runs_terminated"] == 1 and report["workflow_runs_deleted"] == 1
        gone = subprocess.run(
            [TEMPORAL_CLI, "workflow", "describe", "--address", temporal, "-w", workflow_id],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert gone.returncode != 0 and "not found" in gone.stderr.lower()
        transcript = httpx.get(
            f"{api}/v1/customers/{customer_id}/transcript",
            headers={"X-Api-Key": keys["api_key"]},
            timeout=30,
        )
        assert transcript.status_code == 404
        again = _erase(data_dir, env, customer_id, "--tenant", keys["tenant_id"])
        assert again.returncode == 2 and "has no customer" in again.stderr
        assert "Traceback" not in again.stderr
        other = _erase(data_dir, env, customer_id, "--tenant", "t_nobody")
        assert other.returncode == 2 and "no tenant" in other.stderr
    finally:
        assert _stop(proc) == 0

    # Stopped (WAL checkpointed into the databases): still nothing in clear.
    assert _files_containing(data_dir, canaries) == []
    assert _loose_modes(data_dir) == []
