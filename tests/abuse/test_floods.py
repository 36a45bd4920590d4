"""Floods over real HTTP and WebSocket against a real uvicorn on 127.0.0.1: each limit
refuses with 429 and Retry-After (or a WebSocket error frame), starts nothing for what it
refuses, and leaves other visitors, addresses and tenants served. Floods stay small and
only ever target loopback."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.abuse.conftest import StartApi


def _retry_after(r: httpx.Response) -> int:
    assert r.status_code == 429, r.text
    value = int(r.headers["Retry-After"])
    assert 1 <= value <= 600
    assert "try again in" in r.json()["detail"]
    return value


async def _eventually(check: Callable[[], Awaitable[int]], want: int, within: float = 15.0) -> int:
    """Visibility (the workflow list) catches up with starts within a moment."""
    deadline = time.monotonic() + within
    got = -1
    while time.monotonic() < deadline:
        got = await check()
        if got == want:
            return got
        await asyncio.sleep(0.5)
    return got


async def test_a_burst_of_new_visitors_from_one_address_starts_only_a_few(
    start_api: StartApi,
) -> None:
    """The issue's probe: 300 new visitor ids in a burst from one address. With the default
    limits (60 messages/min and 20 new conversations per 10 min per address) 20 start a
    conversation and 280 are refused with 429 + Retry-After, starting nothing."""
    async with start_api() as api:
        h = {"X-Chat-Key": api.tenant.chat_key}
        gate = asyncio.Semaphore(30)

        async def one() -> httpx.Response:
            async with gate:
                return await api.http.post("/v1/chat/messages", json=api.chat(), headers=h)

        started = time.monotonic()
        replies = await asyncio.gather(*(one() for _ in range(300)))
        elapsed = time.monotonic() - started
        refused = [r for r in replies if r.status_code == 429]
        served = [r for r in replies if r.status_code in (200, 202)]
        assert len(served) == 20, [r.status_code for r in replies]
        assert len(refused) == 280
        for r in refused:
            _retry_after(r)
        assert any("new conversations" in r.json()["detail"] for r in refused)
        assert any("from your address" in r.json()["detail"] for r in refused)
        # Nothing was started for a refused visitor: 20 customers, 20 workflows.
        assert api.customers(api.tenant.tenant_id) == 20
        assert await _eventually(api.workflows, 20) == 20
        assert elapsed < 120


async def test_per_visitor_limit(start_api: StartApi) -> None:
    async with start_api(rate_limit_chat_per_visitor="3/minute") as api:
        h = {"X-Chat-Key": api.tenant.chat_key}
        visitor = "v-" + uuid.uuid4().hex[:12]
        codes = []
        for _ in range(5):
            r = await api.http.post(
                "/v1/chat/messages", json=api.chat(visitor_id=visitor), headers=h
            )
            codes.append(r.status_code)
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429], codes
        assert 50 <= _retry_after(r) <= 60
        # Another visitor on the same address is still served, and polling a reply is not
        # counted against the visitor's messages.
        other = await api.http.post("/v1/chat/messages", json=api.chat(), headers=h)
        assert other.status_code == 200
        first = await api.http.post(
            "/v1/chat/messages", json=api.chat(visitor_id="v-poll"), headers=h
        )
        poll = await api.http.get(
            f"/v1/chat/messages/{first.json()['message_id']}",
            params={"visitor_id": "v-poll"},
            headers=h,
        )
        assert poll.status_code == 200


async def test_polling_has_its_own_more_lenient_limit(start_api: StartApi) -> None:
    async with start_api(rate_limit_poll_per_visitor="5/minute") as api:
        h = {"X-Chat-Key": api.tenant.chat_key}
        sent = await api.http.post(
            "/v1/chat/messages", json=api.chat(visitor_id="v-poller"), headers=h
        )
        path = f"/v1/chat/messages/{sent.json()['message_id']}"
        codes = [
            (await api.http.get(path, params={"visitor_id": "v-poller"}, headers=h)).status_code
            for _ in range(7)
        ]
        assert codes == [200] * 5 + [429] * 2


async def test_per_tenant_limit_spares_other_tenants(start_api: StartApi) -> None:
    """Many addresses (through a trusted proxy) and visitors: the tenant's own budget runs
    out; another tenant on the same server is still served."""
    async with start_api(
        rate_limit_chat_per_tenant="4/minute", trusted_proxies=["127.0.0.1"]
    ) as api:
        h = {"X-Chat-Key": api.tenant.chat_key}
        codes = []
        for i in range(6):
            r = await api.http.post(
                "/v1/chat/messages",
                json=api.chat(),
                headers={**h, "X-Forwarded-For": f"203.0.113.{i + 1}"},
            )
            codes.append(r.status_code)
        assert codes == [200] * 4 + [429] * 2, codes
        assert "this shop" in r.json()["detail"]
        _retry_after(r)
        other = await api.http.post(
            "/v1/chat/messages", json=api.chat(), headers={"X-Chat-Key": api.other.chat_key}
        )
        assert other.status_code == 200


async def test_forwarded_for_is_believed_only_from_trusted_proxies(start_api: StartApi) -> None:
    async with start_api(rate_limit_chat_per_address="3/minute") as api:
        h = {"X-Chat-Key": api.tenant.chat_key}
        codes = [
            (
                await api.http.post(
                    "/v1/chat/messages",
                    json=api.chat(),
                    headers={**h, "X-Forwarded-For": f"198.51.100.{i + 1}"},
                )
            ).status_code
            for i in range(4)
        ]
        # No trusted proxies: a client cannot pose as many addresses.
        assert codes == [200, 200, 200, 429], codes


async def test_websocket_flood_gets_error_frames_then_is_closed(start_api: StartApi) -> None:
    async with start_api(rate_limit_chat_per_visitor="2/minute", ws_flood_close_after=4) as api:
        async with websockets.connect(api.stream("v-ws-flood")) as ws:
            for i in range(2):
                await ws.send(json.dumps({"message_id": f"ok{i}", "text": "hello"}))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
                assert reply["type"] == "reply", reply
            for i in range(10):
                await ws.send(json.dumps({"message_id": f"flood{i}", "text": "hello"}))
            errors = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    errors.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
        assert len(errors) == 4
        for e in errors:
            assert e["type"] == "error" and e["status"] == 429 and 1 <= e["retry_after"] <= 60
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert api.customers(api.tenant.tenant_id) == 1


async def test_websocket_connections_and_new_visitors_are_limited(start_api: StartApi) -> None:
    async with start_api(
        rate_limit_ws_connects_per_address="3/minute",
        rate_limit_new_visitors_per_address="2 per 10 minutes",
    ) as api:
        outcomes = []
        for i in range(4):
            async with websockets.connect(api.stream(f"v-conn-{i}")) as ws:
                await ws.send(json.dumps({"message_id": "m", "text": "hello"}))
                try:
                    outcomes.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
                    await asyncio.wait_for(ws.recv(), 0.5)
                except ConnectionClosed as err:
                    outcomes.append({"closed": err.rcvd.code if err.rcvd else None})
                except TimeoutError:
                    pass
        kinds = [o.get("type") for o in outcomes if "type" in o]
        assert kinds[:2] == ["reply", "reply"], outcomes
        refusals = [o for o in outcomes if o.get("status") == 429]
        assert len(refusals) == 2 and "new conversations" in refusals[0]["detail"], outcomes
        assert {"closed": 1008} in outcomes
        assert api.customers(api.tenant.tenant_id) == 2


async def test_oversized_frame_is_refused_before_parsing(start_api: StartApi) -> None:
    async with start_api() as api:
        started = time.monotonic()
        async with websockets.connect(api.stream("v-big"), max_size=None) as ws:
            await ws.send("x" * (1024 * 1024))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        assert time.monotonic() - started < 5
        # No frame was handled: nothing was started for that visitor.
        assert api.customers(api.tenant.tenant_id) == 0
        # Just under the cap is read (and refused by the message check, not the socket).
        async with websockets.connect(api.stream("v-near")) as ws:
            frame = json.dumps(
                {"message_id": "n", "text": "y" * (api.settings.max_message_bytes + 1)}
            )
            assert len(frame) < api.settings.max_request_bytes
            await ws.send(frame)
            err = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert err["status"] == 413
            await ws.send(json.dumps({"message_id": "ok", "text": "hello"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "reply"
        # And HTTP: a 1 MiB body is refused before it is parsed.
        r = await api.http.post(
            "/v1/chat/messages",
            content=b"{" + b" " * (1024 * 1024) + b"}",
            headers={"X-Chat-Key": api.tenant.chat_key, "Content-Type": "application/json"},
        )
        assert r.status_code == 413
