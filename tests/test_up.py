"""`supportflow up` end to end, as a user runs it: start, chat, stop with SIGTERM, start
again on the same data directory, and find the conversation where it was."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from supportflow.identity.tokens import sign_identity_token
from supportflow.workflows.sales_contract import sales_workflow_id
from tests.helpers import SUPPORTFLOW, free_port

pytestmark = pytest.mark.slow

pumps: dict[int, threading.Thread] = {}
READY = re.compile(r"supportflow ready in [\d.]+s\s+api=(\S+)\s+store=(\S+)\s+temporal_ui=(\S+)")


def _start(data_dir: Path, ports: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, **ports, "SUPPORTFLOW_DATA_DIR": str(data_dir)}
    env.setdefault("SUPPORTFLOW_MODEL", os.environ.get("SUPPORTFLOW_TEST_MODEL", "local"))
    proc = subprocess.Popen(
        [SUPPORTFLOW, "up", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        # Keep draining output for the whole run, so the child never blocks on a full pipe.
        assert proc.stdout is not None
        with proc.stdout:
            for line in proc.stdout:
                lines.put(line)

    pumps[proc.pid] = threading.Thread(target=pump, daemon=True)
    pumps[proc.pid].start()
    deadline = time.monotonic() + 120
    seen: list[str] = []
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            continue
        seen.append(line)
        if READY.search(line):
            return proc, line
    proc.kill()
    proc.wait()
    pumps.pop(proc.pid).join(timeout=10)
    pytest.fail("supportflow up never printed ready:\n" + "".join(seen[-40:]))


def _all_ports() -> dict[str, str]:
    """Free ports for every server `up` starts (the API, store, Temporal and its UI, SMTP)."""
    return {
        "SUPPORTFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "SUPPORTFLOW_TEMPORAL_UI_PORT": str(free_port()),
        "SUPPORTFLOW_API_PORT": str(free_port()),
        "SUPPORTFLOW_STORE_PORT": str(free_port()),
        "SUPPORTFLOW_EMBEDDED_SMTP_PORT": str(free_port()),
        "SUPPORTFLOW_SMTP_INBOUND_PORT": str(free_port()),
    }


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        pumps.pop(proc.pid).join(timeout=10)


def test_up_serves_chat_and_resumes_after_restart(tmp_path: Path) -> None:
    ports = {
        "SUPPORTFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "SUPPORTFLOW_TEMPORAL_UI_PORT": str(free_port()),
        "SUPPORTFLOW_API_PORT": str(free_port()),
        "SUPPORTFLOW_STORE_PORT": str(free_port()),
    }
    data_dir = tmp_path / "data"
    proc, line = _start(data_dir, ports)
    try:
        match = READY.search(line)
        assert match is not None
        api, store, ui = match.groups()
        keys = json.loads((data_dir / "demo-tenant.json").read_text())
        assert keys["api_key"] not in line, "the secret API key must not be printed"
        assert keys["identity_secret"] not in line
        # What the store's own login gives a logged-in shopper's chat widget.
        token = sign_identity_token(keys["identity_secret"], email="james.li4495@example.com")
        assert httpx.get(f"{store}/orders/%23W2611340").json()["order_id"] == "#W2611340"
        assert httpx.get(ui, timeout=10).status_code == 200
        visitor = "v-" + uuid.uuid4().hex[:8]
        r = httpx.post(
            f"{api}/v1/chat/messages",
            headers={"X-Chat-Key": keys["chat_key"]},
            json={
                "visitor_id": visitor,
                "message_id": "up-1",
                "text": "where is my order #W2611340",
                "identity_token": token,
            },
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert "357962501027" in r.json()["reply"]
        customer_id = r.json()["customer_id"]
    finally:
        assert _stop(proc) == 0

    assert (data_dir / "temporal.db").exists()
    proc, line = _start(data_dir, ports)
    try:
        api = READY.search(line).groups()[0]  # type: ignore[union-attr]
        r = httpx.post(
            f"{api}/v1/chat/messages",
            headers={"X-Chat-Key": keys["chat_key"]},
            json={
                "visitor_id": visitor,
                "message_id": "up-2",
                "text": "thanks!",
                # The same secret after the restart: the shopper's token still holds.
                "identity_token": token,
            },
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert r.json()["customer_id"] == customer_id
        view = httpx.get(
            f"{api}/v1/customers/{customer_id}/transcript",
            headers={"X-Api-Key": keys["api_key"]},
            timeout=30,
        ).json()
        assert view["turns"] == 2
        assert [e["message_id"] for e in view["entries"]] == ["up-1", "up-1", "up-2", "up-2"]
        customer_entries = [e for e in view["entries"] if e["role"] == "customer"]
        assert [e["verified_by"] for e in customer_entries] == ["token", "token"]
    finally:
        assert _stop(proc) == 0


def _smtp(line: str) -> tuple[str, int]:
    found = re.search(r"smtp=([\d.]+):(\d+)", line)
    assert found is not None, f"the ready line names smtp=HOST:PORT: {line}"
    return found.group(1), int(found.group(2))


async def _started(address: str, workflow_id: str, wait_s: float = 30.0) -> bool:
    from temporalio.client import Client
    from temporalio.service import RPCError

    # describe() reads no payloads: no data converter (up's own keys) is needed.
    client = await Client.connect(address)
    for _ in range(int(wait_s * 10)):
        try:
            await client.get_workflow_handle(workflow_id).describe()
            return True
        except RPCError:
            await asyncio.sleep(0.1)
    return False


def test_up_answers_email_and_sms_with_no_account_anywhere(tmp_path: Path) -> None:
    """The demo tenant's support address takes mail over SMTP (and refuses others with 550);
    the answer threads in the Maildir `/dev/mail` reads. A text signed with its demo Twilio
    auth token is answered through the local Twilio stand-in, listed at `/dev/sms`."""
    import smtplib
    from email.message import EmailMessage

    from supportflow.channels.sms.fake_twilio import signed_inbound

    ports = _all_ports()
    data_dir = tmp_path / "data"
    proc, line = _start(data_dir, ports)
    try:
        api = READY.search(line).groups()[0]  # type: ignore[union-attr]
        host, port = _smtp(line)
        keys = json.loads((data_dir / "demo-tenant.json").read_text())
        for field in ("support_email", "twilio_auth_token", "sms_number"):
            assert keys[field] and keys[field] not in line, field
        admin = {"X-Api-Key": keys["api_key"]}

        mail = EmailMessage()
        mail["From"] = "Jo Shopper <jo.shopper@mail.example>"
        mail["To"] = keys["support_email"]
        mail["Subject"] = "Hello"
        mail["Message-ID"] = message_id = f"<{uuid.uuid4().hex}@mail.example>"
        mail.set_content("Hi, do you have a returns policy?")
        with smtplib.SMTP(host, port, timeout=30) as smtp:
            smtp.send_message(mail)
            code, _ = smtp.docmd("MAIL FROM:<jo.shopper@mail.example>")
            assert code == 250
            code, _ = smtp.docmd("RCPT TO:<someone-else@supportflow.localhost>")
            assert code == 550, "only tenants' support addresses are accepted"
        answers: list[dict[str, str]] = []
        for _ in range(300):
            got = httpx.get(
                f"{api}/dev/mail", params={"to": "jo.shopper@mail.example"}, headers=admin
            )
            answers = got.json()
            if answers:
                break
            time.sleep(0.1)
        [answer] = answers
        assert answer["subject"] == "Re: Hello" and "Demo Store" in answer["from"]
        assert answer["text"].startswith("Hi,") and "return" in answer["text"].lower()

        sms_url = f"{api}/v1/channels/twilio/sms/{keys['tenant_id']}"
        headers, form = signed_inbound(
            sms_url,
            keys["twilio_auth_token"],
            {"From": "+13035550188", "To": keys["sms_number"], "Body": "hi"},
        )
        assert httpx.post(sms_url, data=form, headers=headers, timeout=30).status_code == 200
        texts: list[dict[str, str]] = []
        for _ in range(300):
            texts = httpx.get(f"{api}/dev/sms", params={"to": "+13035550188"}, headers=admin).json()
            if texts:
                break
            time.sleep(0.1)
        [text] = texts
        assert text["sender"] == keys["sms_number"] and text["body"].startswith("Demo Store:")
        other = httpx.get(f"{api}/dev/sms", headers={"X-Api-Key": "sf_live_wrong"})
        assert other.status_code == 401
        # Threaded under the customer's message in their mail client.
        from email.parser import BytesParser

        replies = [
            BytesParser().parsebytes(f.read_bytes(), headersonly=True)
            for f in (data_dir / "mail" / "new").iterdir()
        ]
        [threaded] = [m for m in replies if m["To"] == "jo.shopper@mail.example"]
        assert threaded["In-Reply-To"] == message_id and message_id in threaded["References"]

        # Sales (issue 14): a checkout on the demo store reaches the demo tenant by the
        # store's own signed webhook, with no set-up, and begins its reminder.
        assert keys["store_webhook_secret"] and keys["store_webhook_secret"] not in line
        store = f"http://127.0.0.1:{ports['SUPPORTFLOW_STORE_PORT']}"
        made = httpx.post(
            f"{store}/checkouts",
            json={
                "user_id": "omar_lopez_3107",
                "items": [{"item_id": "9612497925"}],
                "accepts_email_marketing": True,
            },
            timeout=30,
        )
        assert made.status_code == 201, made.text
        wf_id = sales_workflow_id(
            keys["tenant_id"], "omar_lopez_3107", "abandoned_checkout", made.json()["token"]
        )
        assert asyncio.run(_started(ports["SUPPORTFLOW_TEMPORAL_ADDRESS"], wf_id))
    finally:
        assert _stop(proc) == 0


def _worker_children(pid: int) -> set[int]:
    """The `supportflow worker` processes `up` started (Linux: /proc)."""
    out = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmd = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            # [python, .../bin/supportflow, "worker"]: the script runs by its shebang.
            script = [i for i, part in enumerate(cmd) if part.endswith(b"/supportflow")]
            if script and cmd[script[0] + 1 : script[0] + 2] == [b"worker"]:
                out.add(int(child))
    return out


def test_up_with_worker_processes_answers_and_starts_a_killed_one_again(tmp_path: Path) -> None:
    """`up --workers 2` (issue 15): two worker processes serve the conversations, the API's
    process none; one killed is started again; SIGTERM stops them all."""
    ports = _all_ports()
    data_dir = tmp_path / "data"
    proc, line = _start(data_dir, ports, "--workers", "2")
    children: set[int] = set()
    try:
        assert line.rstrip().endswith("workers=2")
        api = READY.search(line).groups()[0]  # type: ignore[union-attr]
        keys = json.loads((data_dir / "demo-tenant.json").read_text())
        children = _worker_children(proc.pid)
        assert len(children) == 2, children
        # The children got the stack's secrets in their environment, not their arguments.
        for child in children:
            assert keys["api_key"].encode() not in Path(f"/proc/{child}/cmdline").read_bytes()
        token = sign_identity_token(keys["identity_secret"], email="james.li4495@example.com")

        def ask(message_id: str) -> str:
            r = httpx.post(
                f"{api}/v1/chat/messages",
                headers={"X-Chat-Key": keys["chat_key"]},
                json={
                    "visitor_id": "v-workers",
                    "message_id": message_id,
                    "text": "where is my order #W2611340",
                    "identity_token": token,
                },
                timeout=60,
            )
            assert r.status_code == 200, r.text
            return str(r.json()["reply"])

        assert "357962501027" in ask("w-1")
        killed = min(children)
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = _worker_children(proc.pid)
            if len(now) == 2 and killed not in now:
                break
            time.sleep(0.3)
        now = _worker_children(proc.pid)
        assert len(now) == 2 and killed not in now, now
        children |= now
        assert "357962501027" in ask("w-2")
        assert (data_dir / "logs" / "worker-0.log").exists()
    finally:
        assert _stop(proc) == 0
    # Stopped with the stack (reaped, or at most a zombie the moment `up` exits).
    for child in children:
        stat = Path(f"/proc/{child}/stat")
        assert not stat.exists() or stat.read_text().split()[2] == "Z", child
