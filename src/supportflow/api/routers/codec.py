"""Codec server: Temporal's UI and CLI send encrypted payloads here to read them.

Temporal's remote codec protocol: ``POST /codec/decode`` and ``/codec/encode`` take and
return ``Payloads`` as protobuf JSON (``{"payloads": [{"metadata": {...}, "data": "..."}]}``,
bytes in base64). Only people who run the stack may call it (see crypto/codec_token.py):
- ``Authorization: Bearer <codec token>`` (the CLI: ``--codec-auth "Bearer <token>"``);
- or a session cookie from ``/codec/login``, which the Temporal UI sends when its codec
  setting "Include cross-origin credentials" is on.
Browsers may call it only from the Temporal UI's origin (CORS, credentials allowed).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from supportflow.api.deps import StateDep
from supportflow.crypto.codec import EncryptionCodec
from supportflow.crypto.codec_token import (
    SESSION_SECONDS,
    load_codec_token,
    new_session,
    session_valid,
    token_matches,
)
from supportflow.crypto.keyring import KeyRingError
from supportflow.settings import Settings
from supportflow.temporal.client import split_address

log = logging.getLogger(__name__)

router = APIRouter(prefix="/codec", tags=["codec"])

SESSION_COOKIE = "sf_codec_session"
_ALLOWED_HEADERS = "content-type,x-namespace,authorization"
_Codec = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


def allowed_origins(settings: Settings) -> set[str]:
    if settings.codec_cors_origins:
        return {o.rstrip("/") for o in settings.codec_cors_origins}
    host, _ = split_address(settings.temporal_address)
    return {f"http://{host}:{settings.temporal_ui_port}"}


def _cors_headers(settings: Settings, origin: str | None) -> dict[str, str]:
    if origin is None or origin not in allowed_origins(settings):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


def _error(code: int, detail: str, cors: dict[str, str]) -> JSONResponse:
    headers = dict(cors)
    if code == status.HTTP_401_UNAUTHORIZED:
        headers["WWW-Authenticate"] = 'Bearer realm="supportflow codec"'
    return JSONResponse({"detail": detail}, code, headers=headers)


def _authorised(request: Request, token: str) -> bool:
    auth = request.headers.get("authorization", "")
    scheme, _, given = auth.partition(" ")
    if scheme.lower() == "bearer" and given.strip():
        return token_matches(token, given.strip())
    session = request.cookies.get(SESSION_COOKIE)
    return session is not None and session_valid(token, session)


async def _apply(request: Request, state: StateDep, which: str) -> Response:
    settings = state.settings
    origin = request.headers.get("origin")
    cors = _cors_headers(settings, origin)
    if origin is not None and not cors:
        return _error(status.HTTP_403_FORBIDDEN, "origin not allowed for the codec server", {})
    token = load_codec_token(settings)
    if token is None:
        return _error(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "codec server not configured: set SUPPORTFLOW_CODEC_TOKEN",
            cors,
        )
    if not _authorised(request, token):
        return _error(status.HTTP_401_UNAUTHORIZED, "codec token or session required", cors)
    # JSON only: a cross-origin browser request with this content type needs a preflight,
    # which only the allowed origin passes (no form post can ride on a session cookie).
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return _error(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send Payloads as application/json", cors
        )
    try:
        payloads = json_format.Parse(await request.body(), Payloads())
    except (json_format.ParseError, ValueError, UnicodeDecodeError) as err:
        return _error(
            status.HTTP_400_BAD_REQUEST,
            f"body is not Temporal Payloads JSON: {str(err)[:200]}",
            cors,
        )
    codec = EncryptionCodec(state.keyring)
    fn: _Codec = codec.decode if which == "decode" else codec.encode
    try:
        out = await fn(list(payloads.payloads))
    except KeyRingError as err:
        return _error(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err), cors)
    except Exception:  # a corrupt payload inside valid ciphertext
        log.warning("codec %s failed on a payload", which)
        return _error(status.HTTP_422_UNPROCESSABLE_CONTENT, "a payload could not be read", cors)
    body = json_format.MessageToJson(Payloads(payloads=out), indent=None)
    return Response(body, media_type="application/json", headers=cors)


def _preflight(request: Request, state: StateDep) -> Response:
    cors = _cors_headers(state.settings, request.headers.get("origin"))
    wanted = request.headers.get("access-control-request-method", "").upper()
    asked = {
        h.strip().lower()
        for h in request.headers.get("access-control-request-headers", "").split(",")
        if h.strip()
    }
    if not cors or wanted != "POST" or not asked <= set(_ALLOWED_HEADERS.split(",")):
        return Response(status_code=status.HTTP_403_FORBIDDEN)
    headers = {
        **cors,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": _ALLOWED_HEADERS,
        "Access-Control-Max-Age": "600",
    }
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=headers)


@router.post("/decode", include_in_schema=False)
async def decode(request: Request, state: StateDep) -> Response:
    return await _apply(request, state, "decode")


@router.post("/encode", include_in_schema=False)
async def encode(request: Request, state: StateDep) -> Response:
    return await _apply(request, state, "encode")


@router.options("/decode", include_in_schema=False)
async def decode_preflight(request: Request, state: StateDep) -> Response:
    return _preflight(request, state)


@router.options("/encode", include_in_schema=False)
async def encode_preflight(request: Request, state: StateDep) -> Response:
    return _preflight(request, state)


_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>supportflow codec login</title></head>
<body>
<h1>Decode payloads in the Temporal UI</h1>
<p>{message}</p>
<form method="post" action="/codec/session">
<label>Codec token <input type="password" name="token" autocomplete="off" required></label>
<button type="submit">Sign in</button>
</form>
<p>Then, in the Temporal UI, open the codec server settings and turn on
"Include cross-origin credentials".</p>
</body></html>
"""


@router.get("/login", include_in_schema=False)
async def login_page() -> HTMLResponse:
    message = "The token is in SUPPORTFLOW_CODEC_TOKEN or the data dir's codec-token file."
    return HTMLResponse(_LOGIN_PAGE.format(message=html.escape(message)))


@router.post("/session", include_in_schema=False)
async def create_session(
    request: Request,
    state: StateDep,
    content_type: Annotated[str, Header()] = "",
) -> Response:
    """Sign the browser in: a form with ``token``, or ``Authorization: Bearer``; sets an
    HttpOnly, SameSite=Strict cookie scoped to /codec for eight hours."""
    token = load_codec_token(state.settings)
    if token is None:
        return _error(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "codec server not configured: set SUPPORTFLOW_CODEC_TOKEN",
            {},
        )
    given = ""
    if content_type.split(";")[0].strip() == "application/x-www-form-urlencoded":
        form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
        given = (form.get("token") or [""])[0].strip()
    else:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        given = value.strip() if scheme.lower() == "bearer" else ""
    if not given or not token_matches(token, given):
        page = _LOGIN_PAGE.format(message="Wrong codec token.")
        return HTMLResponse(page, status.HTTP_401_UNAUTHORIZED)
    response = HTMLResponse(
        _LOGIN_PAGE.format(message="Signed in: the Temporal UI can now decode payloads.")
    )
    response.set_cookie(
        SESSION_COOKIE,
        new_session(token),
        max_age=SESSION_SECONDS,
        path="/codec",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response
