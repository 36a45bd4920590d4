"""Identity at the API, over real HTTP and WebSocket against real workers and the dev server:
signed identity tokens (forged, expired, too long-lived, rotated), typed emails, replies
shown only to their sender, and the CLI that hands merchants their identity secret."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
import websockets

from supportflow.identity.secrets import rotate_identity_secret
from supportflow.identity.tokens import sign_identity_token, verify_identity_token
from supportflow.tenants.service import find_customer
from tests.helpers import SUPPORTFLOW, TEST_ENCRYPTION_KEYS, TEST_KEYRING
from tests.test_api_chat import Api

JAMES = "james.li4495@example.com"  # owns #W2611340 (processed, tracking 357962501027)
TRACKING = "357962501027"


def secret_for(api: Api, grace: timedelta = timedelta(0)) -> str:
    return rotate_identity_secret(api.sessions, TEST_KEYRING, api.tenant.tenant_id, grace=grace)


async def post(api: Api, **body: object) -> tuple[int, dict[str, object]]:
    r = await api.http.post(
        "/v1/chat/messages", json=api.chat(**body), headers={"X-Chat-Key": api.tenant.chat_key}
    )
    assert "traceback" not in r.text.lower()
    return r.status_code, r.json()


async def test_a_signed_token_makes_the_visitor_the_customer(api: Api) -> None:
    token = sign_identity_token(secret_for(api), email=JAMES)
    code, data = await post(api, text="where is my order #W2611340", identity_token=token)
    assert code == 200 and TRACKING in str(data["reply"])
    # A second device signed in as the same customer reaches the same conversation.
    code, again = await post(api, text="thanks", identity_token=token)
    assert again["customer_id"] == data["customer_id"]


async def test_a_typed_email_without_a_token_shows_nothing(api: Api) -> None:
    code, data = await post(api, text="where is my order #W2611340", email=JAMES)
    assert code == 200
    reply = str(data["reply"])
    assert "code is on its way" in reply and TRACKING not in reply and "River" not in reply
    # And the visitor did not join James's conversation.
    _, signed = await post(
        api, text="hello", identity_token=sign_identity_token(secret_for(api), email=JAMES)
    )
    assert signed["customer_id"] != data["customer_id"]


def _forged(secret: str) -> dict[str, str]:
    now = int(time.time())
    return {
        "another tenant's secret": sign_identity_token(
            "sf_idsec_" + "another-tenants-secret" * 2, email=JAMES
        ),
        "expired": jwt.encode({"email": JAMES, "iat": now - 7200, "exp": now - 3600}, secret),
        "lives two days": jwt.encode({"email": JAMES, "iat": now, "exp": now + 172800}, secret),
        "no exp": jwt.encode({"email": JAMES}, secret),
        "no identity": jwt.encode({"iat": now, "exp": now + 60}, secret),
        "alg none": jwt.encode({"email": JAMES, "exp": now + 60}, None, algorithm="none"),
        "garbage": "not.a.token",
    }


async def test_forged_expired_and_malformed_tokens_are_401_and_change_nothing(api: Api) -> None:
    for why, token in _forged(secret_for(api)).items():
        body = api.chat(text="where is my order #W2611340", identity_token=token)
        r = await api.http.post(
            "/v1/chat/messages", json=body, headers={"X-Chat-Key": api.tenant.chat_key}
        )
        assert r.status_code == 401, why
        assert r.json()["detail"].startswith(("identity token", "this store")), r.text
        assert "traceback" not in r.text.lower()
        assert find_customer(api.sessions, api.tenant.tenant_id, "chat", body["visitor_id"]) is None


async def test_rotation_keeps_the_previous_secret_for_its_grace_only(api: Api) -> None:
    old = secret_for(api)
    new = secret_for(api, grace=timedelta(hours=1))
    for secret in (old, new):
        code, _ = await post(
            api, text="hi", identity_token=sign_identity_token(secret, email=JAMES)
        )
        assert code == 200
    newest = secret_for(api, grace=timedelta(0))
    assert (await post(api, text="hi", identity_token=sign_identity_token(old, email=JAMES)))[
        0
    ] == 401
    assert (await post(api, text="hi", identity_token=sign_identity_token(new, email=JAMES)))[
        0
    ] == 401
    ok = sign_identity_token(newest, email=JAMES)
    assert (await post(api, text="hi", identity_token=ok))[0] == 200


async def test_a_reply_is_shown_only_to_its_sender(api: Api) -> None:
    token = sign_identity_token(secret_for(api), email=JAMES)
    body = api.chat(text="where is my order #W2611340", identity_token=token)
    h = {"X-Chat-Key": api.tenant.chat_key}
    first = await api.http.post("/v1/chat/messages", json=body, headers=h)
    assert first.status_code == 200
    mine = await api.http.get(
        f"/v1/chat/messages/{body['message_id']}",
        params={"visitor_id": body["visitor_id"]},
        headers=h,
    )
    assert mine.status_code == 200 and TRACKING in mine.json()["reply"]
    # Another visitor signed in as James reaches the conversation, not this reply.
    other = api.chat(text="hello", identity_token=token)
    await api.http.post("/v1/chat/messages", json=other, headers=h)
    theirs = await api.http.get(
        f"/v1/chat/messages/{body['message_id']}",
        params={"visitor_id": other["visitor_id"]},
        headers=h,
    )
    assert theirs.status_code == 404


async def test_websocket_frames_carry_the_token(api: Api) -> None:
    secret = secret_for(api)
    url = api.url.replace("http", "ws") + (
        f"/v1/chat/stream?chat_key={api.tenant.chat_key}&visitor_id=v-{uuid.uuid4().hex[:8]}"
    )
    async with websockets.connect(url) as ws:
        await ws.send(
            json.dumps(
                {
                    "message_id": "m1",
                    "text": "where is my order #W2611340",
                    "identity_token": "x.y.z",
                }
            )
        )
        refused = json.loads(await ws.recv())
        assert refused["type"] == "error" and refused["status"] == 401
        token = sign_identity_token(secret, email=JAMES)
        await ws.send(
            json.dumps(
                {"message_id": "m2", "text": "where is my order #W2611340", "identity_token": token}
            )
        )
        answered = json.loads(await ws.recv())
        assert answered["type"] == "reply" and TRACKING in answered["reply"]


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SUPPORTFLOW_DATA_DIR": str(tmp_path),
        "SUPPORTFLOW_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
    }


def _cli(env: dict[str, str], *args: str) -> dict[str, object]:
    done = subprocess.run(
        [SUPPORTFLOW, "tenants", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, object] = json.loads(done.stdout)
    return out


def test_the_cli_prints_the_identity_secret_once_and_rotates_it(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    created = _cli(cli_env, "create", "Token Shop")
    secret = str(created["identity_secret"])
    assert secret.startswith("sf_idsec_")
    rotated = _cli(cli_env, "identity-secret", "rotate", str(created["tenant_id"]))
    assert rotated["identity_secret"] != secret
    # Sealed at rest: neither secret appears in the database file.
    raw = (tmp_path / "supportflow.db").read_bytes()
    for path in tmp_path.glob("supportflow.db*"):
        raw += path.read_bytes()
    assert secret.encode() not in raw and str(rotated["identity_secret"]).encode() not in raw
    # What a merchant tries the widget with: a token signed as their login would sign it.
    done = subprocess.run(
        [SUPPORTFLOW, "tenants", "identity-secret", "sign", "Token Shop", "--email", JAMES],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    claims = verify_identity_token(done.stdout.strip(), [str(rotated["identity_secret"])])
    assert claims.email == JAMES


def test_the_cli_refuses_to_create_a_tenant_without_encryption_keys(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTFLOW_ENCRYPTION")}
    env["SUPPORTFLOW_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [SUPPORTFLOW, "tenants", "create", "No Keys"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "no encryption keys" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "supportflow.db").exists(), "nothing written"
