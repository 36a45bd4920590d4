"""Temporal goes away mid-run and comes back (issue 15, bad input: lost connection): the
`supportflow worker` and `supportflow api` processes ride it out without a restart of their
own, and a conversation goes on afterwards with nothing lost. The dev server is stopped and
started again on the same port with the same database file, as a cluster's frontend would."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from tests.helpers import TEMPORAL_CLI, TEST_CONVERTER, free_port
from tests.production.fleet import Fleet, demo_tenant, fleet_settings

DOWN_S = 3.0  # how long Temporal is away


async def _dev_server(port: int, db: Path) -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        data_converter=TEST_CONVERTER,
        dev_server_existing_path=TEMPORAL_CLI,
        port=port,
        dev_server_database_filename=str(db),
    )


async def _answer(base: str, chat_key: str, visitor: str, message_id: str, text: str) -> str:
    """The reply to a chat message (posted, then polled while pending)."""
    headers = {"X-Chat-Key": chat_key}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        body = {"visitor_id": visitor, "message_id": message_id, "text": text}
        r = await http.post("/v1/chat/messages", json=body)
        assert r.status_code in (200, 202), r.text
        while r.status_code == 202:
            await asyncio.sleep(0.5)
            r = await http.get(f"/v1/chat/messages/{message_id}", params={"visitor_id": visitor})
            assert r.status_code in (200, 202), r.text
    reply = r.json()["reply"]
    assert isinstance(reply, str) and reply, r.text
    return reply


async def test_worker_and_api_ride_out_a_temporal_restart(tmp_path: Path, store_url: str) -> None:
    port, db = free_port(), tmp_path / "temporal.db"
    env = await _dev_server(port, db)
    settings = fleet_settings(tmp_path, "", store_url, f"127.0.0.1:{port}")
    keys = await asyncio.to_thread(demo_tenant, settings)
    fleet = Fleet(settings, env.client, tmp_path / "logs")
    api_port = free_port()
    api, worker = fleet.start_api(api_port), fleet.start_worker()
    base, say = fleet.api_url(api_port), keys["chat_key"]
    try:
        await fleet.wait_healthy(api_port, api)
        await fleet.wait_polling([worker])
        first = await _answer(base, say, "restart-v1", "restart-m1", "hello")

        await env.shutdown()
        await asyncio.sleep(DOWN_S)
        env = await _dev_server(port, db)
        fleet.temporal = env.client

        # The same processes, never restarted: the worker polls again, the API answers.
        assert (api.poll(), worker.poll()) == (None, None), fleet.logs
        await fleet.wait_polling([worker])
        await fleet.wait_healthy(api_port, api)
        await _answer(base, say, "restart-v1", "restart-m2", "I need help with an order")
        # The message from before the restart is still there, its reply with it.
        async with httpx.AsyncClient(base_url=base, headers={"X-Chat-Key": say}) as http:
            r = await http.get("/v1/chat/messages/restart-m1", params={"visitor_id": "restart-v1"})
        assert r.status_code == 200 and r.json()["reply"] == first, r.text
        codes = await fleet.stop()
    finally:
        await fleet.stop()
        await env.shutdown()
    assert codes == {"api": [0], "worker": [0]}, fleet.logs
