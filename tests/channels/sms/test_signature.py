"""X-Twilio-Signature: valid, forged, tampered, missing; the public URL behind a proxy."""

from __future__ import annotations

import base64
import hashlib
import hmac

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from supportflow.channels.sms.fake_twilio import signed_inbound
from supportflow.channels.sms.signature import (
    SIGNATURE_HEADER,
    BadForm,
    form_fields,
    public_request_url,
    valid_twilio_request,
)
from tests.channels.sms.conftest import ACCOUNT_SID, AUTH_TOKEN, serve

URL = "https://support.example.com/v1/channels/twilio/sms/t_123?x=1&a=b%20c"
FORM = {
    "MessageSid": "SM" + "a" * 32,
    "AccountSid": ACCOUNT_SID,
    "From": "+15551230000",
    "To": "+15557654321",
    "Body": "Where is my order?",
    "NumMedia": "0",
}


def _twilio_signature(token: str, url: str, form: dict[str, str]) -> str:
    """Twilio's algorithm, written out independently of the twilio package: HMAC-SHA1 over
    the URL followed by each parameter name and value, sorted by name; base64."""
    payload = url + "".join(name + form[name] for name in sorted(form))
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def test_valid_signature() -> None:
    signature = _twilio_signature(AUTH_TOKEN, URL, FORM)
    assert valid_twilio_request(AUTH_TOKEN, URL, FORM, signature)


def test_forged_with_another_token() -> None:
    signature = _twilio_signature("someone-elses-token", URL, FORM)
    assert not valid_twilio_request(AUTH_TOKEN, URL, FORM, signature)


@pytest.mark.parametrize(
    "change",
    [
        {"Body": "Refund me everything"},
        {"From": "+15550000000"},
        {"Extra": "field"},
    ],
)
def test_tampered_form(change: dict[str, str]) -> None:
    signature = _twilio_signature(AUTH_TOKEN, URL, FORM)
    assert not valid_twilio_request(AUTH_TOKEN, URL, {**FORM, **change}, signature)


def test_removed_field() -> None:
    signature = _twilio_signature(AUTH_TOKEN, URL, FORM)
    form = dict(FORM)
    del form["Body"]
    assert not valid_twilio_request(AUTH_TOKEN, URL, form, signature)


@pytest.mark.parametrize(
    "other_url",
    [
        URL.replace("https://", "http://"),  # TLS ended at the proxy
        URL.replace("t_123", "t_124"),  # another tenant's endpoint
        URL.split("?")[0],  # query dropped
        URL.replace("x=1&a=b%20c", "a=b%20c&x=1"),  # query re-ordered
        URL.replace("%20", "+"),  # query re-encoded
    ],
)
def test_url_must_be_the_one_twilio_requested(other_url: str) -> None:
    signature = _twilio_signature(AUTH_TOKEN, URL, FORM)
    assert not valid_twilio_request(AUTH_TOKEN, other_url, FORM, signature)


def test_default_port_either_way() -> None:
    # Twilio is inconsistent about default ports; the validator accepts both forms.
    with_port = URL.replace("example.com/", "example.com:443/")
    assert valid_twilio_request(
        AUTH_TOKEN, URL, FORM, _twilio_signature(AUTH_TOKEN, with_port, FORM)
    )
    assert valid_twilio_request(
        AUTH_TOKEN, with_port, FORM, _twilio_signature(AUTH_TOKEN, URL, FORM)
    )


@pytest.mark.parametrize("signature", [None, "", "not-base64", "AAAA"])
def test_missing_or_garbage_signature(signature: str | None) -> None:
    assert not valid_twilio_request(AUTH_TOKEN, URL, FORM, signature)


def test_empty_token_never_validates() -> None:
    assert not valid_twilio_request("", URL, FORM, _twilio_signature("", URL, FORM))


def test_signed_inbound_matches_twilios_algorithm() -> None:
    headers, form = signed_inbound(URL, AUTH_TOKEN, {"Body": "hi", "MediaUrl0": "https://m/1"})
    assert form["NumMedia"] == "1" and form["SmsStatus"] == "received"
    assert form["MessageSid"].startswith("MM") and form["SmsSid"] == form["MessageSid"]
    assert headers[SIGNATURE_HEADER] == _twilio_signature(AUTH_TOKEN, URL, form)
    fixed, _ = signed_inbound(URL, AUTH_TOKEN, {"MessageSid": "SM" + "1" * 32, "Body": "x"})
    again, _ = signed_inbound(URL, AUTH_TOKEN, {"MessageSid": "SM" + "1" * 32, "Body": "x"})
    assert fixed[SIGNATURE_HEADER] == again[SIGNATURE_HEADER]


def test_public_request_url() -> None:
    assert (
        public_request_url("https://support.example.com/", "/v1/sms/t1", "b=2&a=%20")
        == "https://support.example.com/v1/sms/t1?b=2&a=%20"
    )
    assert (
        public_request_url("https://example.com:8443/api", "v1/sms/t1")
        == "https://example.com:8443/api/v1/sms/t1"
    )
    for bad in ("example.com", "ftp://example.com", "https://example.com/?a=1", ""):
        with pytest.raises(ValueError):
            public_request_url(bad, "/v1")


def test_form_fields() -> None:
    assert form_fields(b"Body=Hi%20there+%F0%9F%98%80&To=%2B1555&Empty=") == {
        "Body": "Hi there 😀",
        "To": "+1555",
        "Empty": "",
    }
    with pytest.raises(BadForm):
        form_fields(b"Body=a&Body=b")
    with pytest.raises(BadForm):
        form_fields(b"Body=%FF")
    with pytest.raises(BadForm):
        form_fields(b"\xff")


async def test_webhook_behind_a_tls_proxy_over_real_http() -> None:
    """The app is reached at http://127.0.0.1:<port>, Twilio signed https://public-host/...:
    the URL is rebuilt from the configured public base, the path and the raw query."""
    public_base = "https://sms.example.com"
    seen: list[bool] = []

    async def webhook(request: Request) -> PlainTextResponse:
        url = public_request_url(public_base, request.url.path, request.url.query)
        form = form_fields(await request.body())
        ok = valid_twilio_request(AUTH_TOKEN, url, form, request.headers.get(SIGNATURE_HEADER))
        seen.append(ok)
        return PlainTextResponse("", status_code=200 if ok else 403)

    app = Starlette(routes=[Route("/v1/channels/twilio/sms/{tenant}", webhook, methods=["POST"])])
    path_and_query = "/v1/channels/twilio/sms/t_1?source=console"
    async with serve(app) as local, httpx.AsyncClient() as http:
        headers, form = signed_inbound(
            public_base + path_and_query,
            AUTH_TOKEN,
            {
                "AccountSid": ACCOUNT_SID,
                "From": "+15551230000",
                "To": "+15557654321",
                "Body": "Where is my order? ✅ & more",
            },
        )
        good = await http.post(local + path_and_query, data=form, headers=headers)
        assert good.status_code == 200
        # Signed for the URL the app sees, not the one Twilio requested: refused.
        local_headers, _ = signed_inbound(local + path_and_query, AUTH_TOKEN, form)
        wrong_url = await http.post(local + path_and_query, data=form, headers=local_headers)
        assert wrong_url.status_code == 403
        forged = await http.post(
            local + path_and_query, data={**form, "Body": "STOP"}, headers=headers
        )
        assert forged.status_code == 403
        missing = await http.post(local + path_and_query, data=form)
        assert missing.status_code == 403
    assert seen == [True, False, False, False]
