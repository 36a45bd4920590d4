"""When no worker accepts a message in time, the API answers 202 and the message is still
delivered durably; the reply is fetched later, and there is exactly one turn."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.settings import Settings
from supportflow.tenants.service import create_tenant
from tests.helpers import free_port, running_workers, serve_api


async def test_no_worker_means_202_then_the_reply_arrives(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    settings = settings.model_copy(
        update={"database_url": url, "api_port": free_port(), "chat_reply_wait_seconds": 1.0}
    )
    upgrade(url)
    engine = make_engine(url)
    tenant = create_tenant(make_session_factory(engine), "Pending Shop")
    headers = {"X-Chat-Key": tenant.chat_key}
    body = {"visitor_id": "v-" + uuid.uuid4().hex[:8], "message_id": "p-1", "text": "hello"}
    try:
        async with serve_api(settings, dev_env.client) as http:
            # No worker polls this test's task queues yet.
            r = await http.post("/v1/chat/messages", json=body, headers=headers)
            assert r.status_code == 202, r.text
            pending = r.json()
            assert pending["status"] == "pending" and pending["reply"] is None
            assert "working on it" in pending["holding"]
            assert r.headers["Location"] == pending["reply_url"]

            async with running_workers(dev_env.client, settings):
                for _ in range(200):
                    got = await http.get(pending["reply_url"], headers=headers)
                    if got.status_code == 200:
                        break
                    assert got.status_code == 202
                    await asyncio.sleep(0.1)
                assert got.status_code == 200, got.text
                reply = got.json()["reply"]
                assert reply

                again = await http.post("/v1/chat/messages", json=body, headers=headers)
                assert again.status_code == 200
                assert again.json()["reply"] == reply and again.json()["duplicate"]

                path = f"/v1/customers/{pending['customer_id']}/transcript"
                view = await http.get(path, headers={"X-Api-Key": tenant.api_key})
                assert view.json()["turns"] == 1
                unknown = await http.get(
                    f"/v1/chat/messages/nope?visitor_id={body['visitor_id']}", headers=headers
                )
                assert unknown.status_code == 404
                stranger = await http.get(
                    "/v1/chat/messages/p-1?visitor_id=nobody-here", headers=headers
                )
                assert stranger.status_code == 404
    finally:
        engine.dispose()
