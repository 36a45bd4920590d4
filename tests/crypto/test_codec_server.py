"""The codec server (/codec) over real HTTP on loopback: Temporal's protocol, auth, CORS."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from supportflow.crypto.codec_token import new_session
from supportflow.settings import Settings
from tests.helpers import TEST_CONVERTER, free_port, serve_api

TOKEN = "test-codec-token-" + "x" * 20
UI = "http://127.0.0.1:18233"


@dataclass
class Codec:
    http: httpx.AsyncClient
    settings: Settings


async def _serve(settings: Settings, env: WorkflowEnvironment) -> AsyncIterator[Codec]:
    async with serve_api(settings, env.client) as http:
        yield Codec(http, settings)


@pytest.fixture
async def codec(dev_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Codec]:
    settings = settings.model_copy(
        update={"api_port": free_port(), "codec_token": SecretStr(TOKEN), "temporal_ui_port": 18233}
    )
    async for c in _serve(settings, dev_env):
        yield c


def _bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def _encrypted_payloads(*values: object) -> dict[str, object]:
    payloads = await TEST_CONVERTER.encode(list(values))
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


def _values(body: dict[str, list[dict[str, object]]]) -> list[object]:
    out = []
    for p in body["payloads"]:
        data = p["data"]
        assert isinstance(data, str)
        out.append(json.loads(base64.b64decode(data)))
    return out


async def test_decode_gives_back_what_the_workers_wrote(codec: Codec) -> None:
    body = await _encrypted_payloads({"text": "card 4111111111111111"}, "second")
    assert "4111" not in json.dumps(body)
    r = await codec.http.post("/codec/decode", json=body, headers=_bearer())
    assert r.status_code == 200, r.text
    assert _values(r.json()) == [{"text": "card 4111111111111111"}, "second"]
    meta = r.json()["payloads"][0]["metadata"]
    assert base64.b64decode(meta["encoding"]) == b"json/plain"


async def test_a_history_sized_decode_is_not_refused_by_the_body_limit(codec: Codec) -> None:
    # A conversation's carried state plus maximal messages: far over the chat body cap.
    texts = ["x" * 16_000 for _ in range(10)]
    body = await _encrypted_payloads(*texts)
    assert len(json.dumps(body)) > 200_000
    r = await codec.http.post("/codec/decode", json=body, headers=_bearer())
    assert r.status_code == 200, r.text[:200]
    assert _values(r.json()) == texts
    # The chat API keeps its own, small cap.
    big = {"visitor_id": "v", "message_id": "m", "text": "x" * 100_000}
    assert (await codec.http.post("/v1/chat/messages", json=big)).status_code == 413


async def test_encode_then_decode_round_trip(codec: Codec) -> None:
    plain = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "IjEyMyI="}]}
    enc = await codec.http.post("/codec/encode", json=plain, headers=_bearer())
    assert enc.status_code == 200, enc.text
    meta = enc.json()["payloads"][0]["metadata"]
    assert base64.b64decode(meta["encoding"]) == b"binary/encrypted"
    assert base64.b64decode(meta["encryption-key-id"]) == b"test-k1"
    dec = await codec.http.post("/codec/decode", json=enc.json(), headers=_bearer())
    assert dec.json() == plain


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Basic {TOKEN}"}, 401),
        # A tenant's API key is not the codec token: tenants never read each other's data.
        ({"X-Api-Key": TOKEN}, 401),
    ],
)
async def test_decode_needs_the_codec_token(
    codec: Codec, headers: dict[str, str], code: int
) -> None:
    body = await _encrypted_payloads("secret")
    r = await codec.http.post("/codec/decode", json=body, headers=headers)
    assert r.status_code == code
    assert "secret" not in r.text
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_session_cookie_from_login_works_for_the_ui_origin(codec: Codec) -> None:
    page = await codec.http.get("/codec/login")
    assert page.status_code == 200 and 'name="token"' in page.text
    bad = await codec.http.post("/codec/session", data={"token": "nope"})
    assert bad.status_code == 401 and "sf_codec_session" not in bad.headers.get("set-cookie", "")
    good = await codec.http.post("/codec/session", data={"token": TOKEN})
    assert good.status_code == 200
    cookie = good.headers["set-cookie"].lower()
    for attr in ("httponly", "samesite=strict", "path=/codec", "max-age="):
        assert attr in cookie
    session = good.cookies["sf_codec_session"]
    codec.http.cookies.clear()  # each request below says which cookie it carries
    body = await _encrypted_payloads({"a": 1})
    r = await codec.http.post(
        "/codec/decode",
        json=body,
        headers={"Origin": UI, "X-Namespace": "default", "Cookie": f"sf_codec_session={session}"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == UI
    assert r.headers["access-control-allow-credentials"] == "true"
    assert _values(r.json()) == [{"a": 1}]
    # A forged or expired session is no session.
    for forged in ("9999999999.deadbeef", new_session(TOKEN, now=0), new_session("other")):
        r = await codec.http.post(
            "/codec/decode", json=body, headers={"Cookie": f"sf_codec_session={forged}"}
        )
        assert r.status_code == 401


async def test_preflight_allows_only_the_ui_origin(codec: Codec) -> None:
    ok = await codec.http.options(
        "/codec/decode",
        headers={
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        },
    )
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == UI
    assert "x-namespace" in ok.headers["access-control-allow-headers"]
    assert ok.headers["access-control-allow-credentials"] == "true"
    for origin, method, asked in (
        ("http://evil.example", "POST", "content-type"),
        (UI, "DELETE", "content-type"),
        (UI, "POST", "x-something-else"),
    ):
        r = await codec.http.options(
            "/codec/encode",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": asked,
            },
        )
        assert r.status_code == 403
        assert "access-control-allow-origin" not in r.headers
    # A request from another origin is refused outright, token or not.
    body = await _encrypted_payloads("x")
    r = await codec.http.post(
        "/codec/decode", json=body, headers={**_bearer(), "Origin": "http://evil.example"}
    )
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize(
    ("content", "content_type", "code"),
    [
        (b"not json", "application/json", 400),
        (b'{"payloads": [{"nope": 1}]}', "application/json", 400),
        (b'{"payloads": "x"}', "application/json", 400),
        (b'{"payloads": []}', "text/plain", 415),
    ],
)
async def test_bad_bodies_get_clear_errors(
    codec: Codec, content: bytes, content_type: str, code: int
) -> None:
    headers = {**_bearer(), "Content-Type": content_type}
    r = await codec.http.post("/codec/decode", content=content, headers=headers)
    assert r.status_code == code
    assert "Traceback" not in r.text and r.json()["detail"]


async def test_tampered_or_foreign_ciphertext_is_422(codec: Codec) -> None:
    body = await _encrypted_payloads("x")
    payload = body["payloads"][0]  # type: ignore[index]
    data = bytearray(base64.b64decode(payload["data"]))
    data[-1] ^= 1
    payload["data"] = base64.b64encode(bytes(data)).decode()
    r = await codec.http.post("/codec/decode", json=body, headers=_bearer())
    assert r.status_code == 422 and "authentication" in r.json()["detail"]
    payload["metadata"]["encryption-key-id"] = base64.b64encode(b"gone").decode()
    r = await codec.http.post("/codec/decode", json=body, headers=_bearer())
    assert r.status_code == 422 and "'gone'" in r.json()["detail"]


async def test_without_a_token_the_codec_server_is_off(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    settings = settings.model_copy(update={"api_port": free_port()})
    async for c in _serve(settings, dev_env):
        body = await _encrypted_payloads("x")
        r = await c.http.post("/codec/decode", json=body, headers=_bearer())
        assert r.status_code == 503 and "SUPPORTFLOW_CODEC_TOKEN" in r.json()["detail"]
