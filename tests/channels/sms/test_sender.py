"""TwilioSms (the official twilio client, async) against the fake Twilio REST API over
real HTTP on loopback: created, refused (4xx), deferred (5xx, 429, refused connection,
timeout), and status callbacks arriving signed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from supportflow.channels.sms.fake_twilio import FakeTwilioServer
from supportflow.channels.sms.sender import SentSms, SmsDeferred, SmsRejected, TwilioSms
from supportflow.channels.sms.signature import (
    SIGNATURE_HEADER,
    form_fields,
    valid_twilio_request,
)
from tests.channels.sms.conftest import ACCOUNT_SID, AUTH_TOKEN, serve

FROM = "+15550001111"
TO = "+447700900123"
BODY = "Your refund of €20 is on its way."


def _sms(server: FakeTwilioServer, token: str = AUTH_TOKEN, **kw: float) -> TwilioSms:
    return TwilioSms(ACCOUNT_SID, token, base_url=server.url, **kw)


async def test_created(fake_twilio: FakeTwilioServer) -> None:
    sent = await _sms(fake_twilio).send(from_=FROM, to=TO, body=BODY, status_callback=None)
    assert isinstance(sent, SentSms)
    assert re.fullmatch(r"SM[0-9a-f]{32}", sent.sid)
    assert sent.status == "queued"
    [message] = fake_twilio.fake.list_messages()
    assert (message.sid, message.from_, message.to, message.body) == (sent.sid, FROM, TO, BODY)
    assert message.num_segments == 1 and message.status_callback is None


async def test_one_pool_for_several_sends(fake_twilio: FakeTwilioServer) -> None:
    async with _sms(fake_twilio) as sms:
        sids = [
            (await sms.send(from_=FROM, to=TO, body=f"part {i}", status_callback=None)).sid
            for i in range(3)
        ]
    assert len(set(sids)) == 3
    assert [m.body for m in fake_twilio.fake.list_messages()] == ["part 0", "part 1", "part 2"]


async def test_long_body_is_counted_in_segments(fake_twilio: FakeTwilioServer) -> None:
    await _sms(fake_twilio).send(from_=FROM, to=TO, body="x" * 200, status_callback=None)
    await _sms(fake_twilio).send(from_=FROM, to=TO, body="😀" * 40, status_callback=None)
    assert [m.num_segments for m in fake_twilio.fake.list_messages()] == [2, 2]


async def test_wrong_token_is_rejected_with_20003(fake_twilio: FakeTwilioServer) -> None:
    with pytest.raises(SmsRejected) as caught:
        await _sms(fake_twilio, token="wrong").send(
            from_=FROM, to=TO, body=BODY, status_callback=None
        )
    assert (caught.value.code, caught.value.status) == (20003, 401)
    assert fake_twilio.fake.list_messages() == []


@pytest.mark.parametrize(
    ("to", "code"),
    [
        ("12345", 21211),  # not E.164
        ("+1 555 000", 21211),
        ("+15005550001", 21211),  # Twilio's magic invalid number
        ("+15005550009", 21614),  # magic: not a mobile number
    ],
)
async def test_bad_number_is_rejected(fake_twilio: FakeTwilioServer, to: str, code: int) -> None:
    with pytest.raises(SmsRejected) as caught:
        await _sms(fake_twilio).send(from_=FROM, to=to, body=BODY, status_callback=None)
    assert (caught.value.code, caught.value.status) == (code, 400)
    assert fake_twilio.fake.list_messages() == []


async def test_unsubscribed_recipient_is_rejected_with_21610(
    fake_twilio: FakeTwilioServer,
) -> None:
    fake_twilio.fake.opt_out(TO)
    with pytest.raises(SmsRejected) as caught:
        await _sms(fake_twilio).send(from_=FROM, to=TO, body=BODY, status_callback=None)
    assert caught.value.code == 21610
    fake_twilio.fake.opt_in(TO)
    await _sms(fake_twilio).send(from_=FROM, to=TO, body=BODY, status_callback=None)


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_outage_and_rate_limit_are_deferred(
    fake_twilio: FakeTwilioServer, status: int
) -> None:
    fake_twilio.fake.fail_next(status)
    with pytest.raises(SmsDeferred) as caught:
        await _sms(fake_twilio).send(from_=FROM, to=TO, body=BODY, status_callback=None)
    assert caught.value.status == status and caught.value.maybe_sent
    # The next attempt goes through: a retry is the right response.
    await _sms(fake_twilio).send(from_=FROM, to=TO, body=BODY, status_callback=None)
    assert len(fake_twilio.fake.list_messages()) == 1


async def test_connection_refused_is_deferred_and_certainly_not_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the send: nobody listens
    sms = TwilioSms(ACCOUNT_SID, AUTH_TOKEN, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(SmsDeferred) as caught:
        await sms.send(from_=FROM, to=TO, body=BODY, status_callback=None)
    assert not caught.value.maybe_sent


async def test_no_answer_is_deferred_after_the_timeout() -> None:
    # A server that accepts the connection and never answers.
    connections: list[asyncio.StreamWriter] = []

    async def hang(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        sms = TwilioSms(
            ACCOUNT_SID, AUTH_TOKEN, base_url=f"http://127.0.0.1:{port}", timeout_seconds=0.3
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(SmsDeferred) as caught:
            await sms.send(from_=FROM, to=TO, body=BODY, status_callback=None)
        assert caught.value.maybe_sent
        assert loop.time() - started < 5
    finally:
        # Closed and awaited here: a transport left to the garbage collector warns in
        # whichever test runs when it is collected (warnings are errors).
        for writer in connections:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        server.close()
        await server.wait_closed()


async def test_environment_cannot_reroute_the_host(
    fake_twilio: FakeTwilioServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_REGION", "au1")
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    await _sms(fake_twilio).send(from_=FROM, to=TO, body=BODY, status_callback=None)
    assert len(fake_twilio.fake.list_messages()) == 1


async def test_numbers_and_bodies_never_reach_the_logs(
    fake_twilio: FakeTwilioServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await _sms(fake_twilio).send(from_=FROM, to=TO, body=BODY, status_callback=None)
    with pytest.raises(SmsRejected) as rejected:
        await _sms(fake_twilio).send(from_=FROM, to="+15005550001", body=BODY, status_callback=None)
    fake_twilio.fake.fail_next(500)
    with pytest.raises(SmsDeferred) as deferred:
        await _sms(fake_twilio).send(from_=FROM, to=TO, body=BODY, status_callback=None)
    for secret in (FROM, TO, "+15005550001", BODY, AUTH_TOKEN):
        assert secret not in caplog.text
        assert secret not in str(rejected.value) and secret not in str(deferred.value)
    assert "21211" in caplog.text  # the reason is logged, by code


def test_bad_configuration_is_refused_at_once() -> None:
    with pytest.raises(ValueError):
        TwilioSms("", AUTH_TOKEN)
    with pytest.raises(ValueError):
        TwilioSms(ACCOUNT_SID, "")
    with pytest.raises(ValueError):
        TwilioSms(ACCOUNT_SID, AUTH_TOKEN, timeout_seconds=0)


async def test_status_callbacks_arrive_signed(fake_twilio: FakeTwilioServer) -> None:
    received: list[tuple[bool, dict[str, str]]] = []
    callback_path = "/v1/channels/twilio/sms/t_1/status"

    async def status(request: Request) -> PlainTextResponse:
        form = form_fields(await request.body())
        ok = valid_twilio_request(
            AUTH_TOKEN, str(request.url), form, request.headers.get(SIGNATURE_HEADER)
        )
        received.append((ok, form))
        return PlainTextResponse("", status_code=204 if ok else 403)

    app = Starlette(routes=[Route(callback_path, status, methods=["POST"])])
    async with serve(app) as base:
        sent = await _sms(fake_twilio).send(
            from_=FROM, to=TO, body=BODY, status_callback=base + callback_path + "?r=1"
        )
        await fake_twilio.fake.wait_for_callbacks()
    assert [ok for ok, _ in received] == [True, True]
    assert [form["MessageStatus"] for _, form in received] == ["sent", "delivered"]
    for _, form in received:
        assert form["MessageSid"] == form["SmsSid"] == sent.sid
        assert form["AccountSid"] == ACCOUNT_SID and form["To"] == TO
    assert "RawDlrDoneDate" in received[1][1]
    [message] = fake_twilio.fake.list_messages()
    assert message.status == "delivered"


async def test_garbled_or_dropped_answers_are_deferred() -> None:
    async def garbled(_: Request) -> PlainTextResponse:
        return PlainTextResponse("<html>proxy error</html>", status_code=201)

    app = Starlette(routes=[Route("/{path:path}", garbled, methods=["POST"])])
    async with serve(app) as base:
        with pytest.raises(SmsDeferred) as caught:
            await TwilioSms(ACCOUNT_SID, AUTH_TOKEN, base_url=base).send(
                from_=FROM, to=TO, body=BODY, status_callback=None
            )
        assert caught.value.maybe_sent

    # A server that reads the request and hangs up without answering.
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(SmsDeferred) as caught:
            await TwilioSms(ACCOUNT_SID, AUTH_TOKEN, base_url=f"http://127.0.0.1:{port}").send(
                from_=FROM, to=TO, body=BODY, status_callback=None
            )
        assert caught.value.maybe_sent
    finally:
        server.close()
        await server.wait_closed()
