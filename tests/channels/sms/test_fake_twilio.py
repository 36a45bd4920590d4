"""The fake Twilio REST API on the wire: what a plain HTTP client sees (shapes of success and
error answers), media, bounded memory, and a receiver that is down."""

from __future__ import annotations

import logging
import re
import socket

import httpx
import pytest

from supportflow.channels.sms.fake_twilio import FakeTwilio, FakeTwilioServer
from tests.channels.sms.conftest import ACCOUNT_SID, AUTH_TOKEN

MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
FORM = {"To": "+15557654321", "From": "+15550001111", "Body": "Hello"}


async def _post(
    server: FakeTwilioServer,
    data: dict[str, str] | dict[str, str | list[str]],
    *,
    auth: tuple[str, str] = (ACCOUNT_SID, AUTH_TOKEN),
    path: str = MESSAGES,
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url) as http:
        return await http.post(path, data=data, auth=auth)


async def test_created_resource_shape(fake_twilio: FakeTwilioServer) -> None:
    answer = await _post(fake_twilio, FORM)
    assert answer.status_code == 201
    body = answer.json()
    assert re.fullmatch(r"SM[0-9a-f]{32}", body["sid"])
    assert body["status"] == "queued" and body["direction"] == "outbound-api"
    assert (body["to"], body["from"], body["body"]) == (FORM["To"], FORM["From"], "Hello")
    assert body["num_segments"] == "1" and body["num_media"] == "0"
    assert body["account_sid"] == ACCOUNT_SID and body["api_version"] == "2010-04-01"
    assert body["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{body['sid']}.json"
    assert answer.headers["Twilio-Request-Id"].startswith("RQ")
    async with httpx.AsyncClient(base_url=fake_twilio.url) as http:
        fetched = await http.get(body["uri"], auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert fetched.status_code == 200 and fetched.json()["sid"] == body["sid"]


async def test_media_makes_an_mms(fake_twilio: FakeTwilioServer) -> None:
    # Repeated MediaUrl fields, as the twilio client sends a list.
    data: dict[str, str | list[str]] = {
        **FORM,
        "MediaUrl": ["https://m.example/1.jpg", "https://m/2"],
    }
    answer = await _post(fake_twilio, data)
    assert answer.status_code == 201
    assert answer.json()["sid"].startswith("MM") and answer.json()["num_media"] == "2"
    [message] = fake_twilio.fake.list_messages()
    assert message.media_urls == ("https://m.example/1.jpg", "https://m/2")


@pytest.mark.parametrize(
    "auth",
    [
        (ACCOUNT_SID, "wrong"),
        ("AC" + "f" * 32, AUTH_TOKEN),
        ("", ""),
    ],
)
async def test_bad_credentials(fake_twilio: FakeTwilioServer, auth: tuple[str, str]) -> None:
    answer = await _post(fake_twilio, FORM, auth=auth)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Basic")
    assert answer.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
        "detail": "Your AccountSid or AuthToken was incorrect.",
    }
    assert fake_twilio.fake.list_messages() == []


async def test_no_credentials(fake_twilio: FakeTwilioServer) -> None:
    async with httpx.AsyncClient(base_url=fake_twilio.url) as http:
        answer = await http.post(MESSAGES, data=FORM)
    assert answer.status_code == 401


async def test_another_accounts_path(fake_twilio: FakeTwilioServer) -> None:
    other = "AC" + "e" * 32
    fake_twilio.fake.add_account(other, "other-token")
    answer = await _post(fake_twilio, FORM, auth=(other, "other-token"))
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"To": ""}, 21604),
        ({"To": "5557654321"}, 21211),
        ({"To": "+0123"}, 21211),
        ({"To": "+1234567890123456"}, 21211),
        ({"From": ""}, 21603),
        ({"Body": ""}, 21602),
        ({"Body": "x" * 1601}, 21617),
        ({"To": "+15005550002"}, 21612),
        ({"To": "+15005550003"}, 21408),
        ({"To": "+15005550004"}, 21610),
    ],
)
async def test_validation_errors(
    fake_twilio: FakeTwilioServer, change: dict[str, str], code: int
) -> None:
    answer = await _post(fake_twilio, {**FORM, **change})
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == code and body["status"] == 400
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert body["message"]
    assert fake_twilio.fake.list_messages() == []


async def test_memory_is_bounded() -> None:
    fake = FakeTwilio({ACCOUNT_SID: AUTH_TOKEN}, max_messages=3)
    async with FakeTwilioServer(fake) as server:
        for i in range(5):
            assert (await _post(server, {**FORM, "Body": f"m{i}"})).status_code == 201
    assert [m.body for m in fake.list_messages()] == ["m2", "m3", "m4"]
    assert fake.list_messages(account_sid="AC" + "f" * 32) == []


async def test_a_receiver_that_is_down_loses_only_the_callback(
    fake_twilio: FakeTwilioServer, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/status"
    answer = await _post(fake_twilio, {**FORM, "StatusCallback": dead})
    assert answer.status_code == 201
    with caplog.at_level(logging.WARNING):
        await fake_twilio.fake.wait_for_callbacks()
    assert "status callback" in caplog.text
    assert FORM["To"] not in caplog.text
    [message] = fake_twilio.fake.list_messages()
    assert message.status == "delivered"


def test_bad_setup_is_refused() -> None:
    with pytest.raises(ValueError):
        FakeTwilio({"not-a-sid": "token"})
    with pytest.raises(ValueError):
        FakeTwilio(max_messages=0)
    fake = FakeTwilio()
    with pytest.raises(ValueError):
        fake.add_account(ACCOUNT_SID, "")
