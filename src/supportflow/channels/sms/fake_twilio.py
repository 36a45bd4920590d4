"""A local stand-in for Twilio's REST Messages API, for `supportflow up`'s demo tenant and
for tests: the part of Twilio we use, on loopback, speaking Twilio's wire format.

It is not Twilio and delivers nothing to phones. It implements
``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (and fetching a message) as the real
API behaves for what `TwilioSms` sends: HTTP Basic auth with the account SID and auth token
(wrong: 401, error 20003), form fields To, From, Body, StatusCallback and repeated MediaUrl,
Twilio's error JSON (``{"code", "message", "more_info", "status"}``) for a missing or
invalid number (21604, 21211), missing sender (21603) or body (21602), an over-long body
(21617), a recipient that replied STOP (21610), and Twilio's magic test numbers
(+15005550001..4, +15005550009). A created message answers 201 with a Twilio message
resource (sid ``SM`` + 32 hex, ``MM`` with media; status "queued"; num_segments counted as
Twilio counts them).

Messages are kept in memory (the newest ``max_messages``) for ``list_messages()`` (what
``/dev/sms`` shows). If the request names a StatusCallback, the fake then POSTs "sent" and
"delivered" to it, form-encoded and signed with ``X-Twilio-Signature`` exactly as Twilio
signs webhooks, so the app's status endpoint is exercised with real signatures.

``signed_inbound`` builds an inbound-SMS webhook request as Twilio would send it to the app.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import re
import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from supportflow.asgi_server import LoopbackServer
from supportflow.channels.sms.segments import MAX_BODY_CHARS, segments
from supportflow.channels.sms.signature import SIGNATURE_HEADER

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")

# Twilio's test-credential magic "To" numbers and the errors they produce.
_MAGIC_TO: dict[str, tuple[int, str]] = {
    "+15005550001": (21211, "The 'To' number {to} is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number: {to}, is not currently reachable via SMS."),
    "+15005550003": (
        21408,
        "Permission to send an SMS has not been enabled for the region indicated by the "
        "'To' number: {to}.",
    ),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}


# What fail_next(status) answers with, as Twilio words it.
_FAILURES: dict[int, tuple[int, str]] = {
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 lowercase hex digits."""
    return prefix + secrets.token_hex(16)


def twilio_error(status: int, code: int, message: str, **extra: Any) -> JSONResponse:
    """Twilio's 2010-04-01 error body."""
    content = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
        **extra,
    }
    return JSONResponse(content, status_code=status)


@dataclass
class FakeMessage:
    sid: str
    account_sid: str
    from_: str
    to: str
    body: str
    status: str
    num_segments: int
    media_urls: tuple[str, ...]
    status_callback: str | None
    date_created: datetime
    date_updated: datetime

    def resource(self) -> dict[str, Any]:
        """The message as Twilio's API returns it."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": format_datetime(self.date_created),
            "date_sent": None,
            "date_updated": format_datetime(self.date_updated),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": None,
            "num_media": str(len(self.media_urls)),
            "num_segments": str(self.num_segments),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": self.to,
            "uri": f"{uri}.json",
        }


@dataclass
class _Failure:
    status: int
    remaining: int


@dataclass
class FakeTwilio:
    """The fake's state and its ASGI app (``app``). Serve it with ``FakeTwilioServer``."""

    accounts: dict[str, str] = field(default_factory=dict)  # account SID -> auth token
    max_messages: int = 1000
    status_callbacks: bool = True
    # Pause before each status callback, as a carrier takes a moment to report.
    callback_delay_seconds: float = 0.05

    def __post_init__(self) -> None:
        if self.max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        self.accounts = dict(self.accounts)  # ours to change (add_account), not the caller's
        for sid in self.accounts:
            _check_account_sid(sid)
        self._messages: deque[FakeMessage] = deque(maxlen=self.max_messages)
        self._opted_out: set[str] = set()
        self._failure: _Failure | None = None
        self._callbacks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self.app = Starlette(
            routes=[
                Route(
                    f"/{API_VERSION}/Accounts/{{account_sid}}/Messages.json",
                    self._create_message,
                    methods=["POST"],
                ),
                Route(
                    f"/{API_VERSION}/Accounts/{{account_sid}}/Messages.json",
                    self._list_messages,
                    methods=["GET"],
                ),
                Route(
                    f"/{API_VERSION}/Accounts/{{account_sid}}/Messages/{{sid}}.json",
                    self._fetch_message,
                    methods=["GET"],
                ),
            ]
        )

    # --- controls for `up` and tests --------------------------------------------------------

    def add_account(self, account_sid: str, auth_token: str) -> None:
        _check_account_sid(account_sid)
        if not auth_token:
            raise ValueError("auth token must not be empty")
        self.accounts[account_sid] = auth_token

    def opt_out(self, number: str) -> None:
        """As if ``number`` had replied STOP: sends to it fail with 21610."""
        self._opted_out.add(number)

    def opt_in(self, number: str) -> None:
        self._opted_out.discard(number)

    def fail_next(self, status: int = 500, *, times: int = 1) -> None:
        """Answer the next ``times`` authenticated creates with this HTTP status (5xx: a
        Twilio outage, 429: rate limited)."""
        self._failure = _Failure(status, times)

    def list_messages(self, account_sid: str | None = None) -> list[FakeMessage]:
        """Messages created so far, oldest first (copies)."""
        return [
            replace(m)
            for m in self._messages
            if account_sid is None or m.account_sid == account_sid
        ]

    def clear(self) -> None:
        self._messages.clear()
        self._opted_out.clear()
        self._failure = None

    async def wait_for_callbacks(self) -> None:
        """Until every status callback scheduled so far has been attempted."""
        while self._callbacks:
            await asyncio.gather(*list(self._callbacks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._callbacks):
            task.cancel()
        await asyncio.gather(*list(self._callbacks), return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # --- the API ----------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        sid = token = ""
        if scheme.lower() == "basic":
            try:
                sid, _, token = base64.b64decode(encoded, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                sid = token = ""
        expected = self.accounts.get(sid)
        path_sid = request.path_params["account_sid"]
        if (
            expected is None
            or not hmac.compare_digest(expected.encode(), token.encode())
            or sid != path_sid
        ):
            response = twilio_error(
                401, 20003, "Authenticate", detail="Your AccountSid or AuthToken was incorrect."
            )
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return response
        return None

    async def _create_message(self, request: Request) -> Response:
        if denied := self._authenticate(request):
            return denied
        if self._failure is not None:
            failure = self._failure
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failure = None
            code, text = _FAILURES.get(failure.status, (20500, "Internal Server Error"))
            return twilio_error(failure.status, code, text)
        try:
            pairs = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return twilio_error(400, 20001, "Invalid request body")
        form: dict[str, str] = {}
        media: list[str] = []
        for name, value in pairs:
            if name == "MediaUrl":
                media.append(value)
            else:
                form[name] = value
        to, from_, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if to in _MAGIC_TO:
            code, text = _MAGIC_TO[to]
            return twilio_error(400, code, text.format(to=to))
        if not _E164.match(to):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not from_:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body and not media:
            return twilio_error(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY_CHARS:
            return twilio_error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if to in self._opted_out:
            return twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
        now = datetime.now(UTC)
        message = FakeMessage(
            sid=new_sid("MM" if media else "SM"),
            account_sid=request.path_params["account_sid"],
            from_=from_,
            to=to,
            body=body,
            status="queued",
            num_segments=max(1, segments(body).segments),
            media_urls=tuple(media),
            status_callback=form.get("StatusCallback") or None,
            date_created=now,
            date_updated=now,
        )
        self._messages.append(message)
        if message.status_callback and self.status_callbacks:
            task = asyncio.create_task(self._report_status(message), name="fake-twilio-status")
            self._callbacks.add(task)
            task.add_done_callback(self._callbacks.discard)
        response = JSONResponse(message.resource(), status_code=201)
        response.headers["Twilio-Request-Id"] = new_sid("RQ")
        return response

    async def _list_messages(self, request: Request) -> Response:
        """Twilio's message list (first page only): newest first, filtered by To/From,
        PageSize up to 1000, as /dev/sms reads it."""
        if denied := self._authenticate(request):
            return denied
        account = request.path_params["account_sid"]
        to, from_ = request.query_params.get("To"), request.query_params.get("From")
        try:
            size = min(max(int(request.query_params.get("PageSize", "50")), 1), 1000)
        except ValueError:
            return twilio_error(400, 20001, "PageSize must be a number")
        found = [
            m.resource()
            for m in reversed(self._messages)
            if m.account_sid == account
            and (to is None or m.to == to)
            and (from_ is None or m.from_ == from_)
        ][:size]
        uri = f"/{API_VERSION}/Accounts/{account}/Messages.json?PageSize={size}&Page=0"
        return JSONResponse(
            {
                "messages": found,
                "page": 0,
                "page_size": size,
                "first_page_uri": uri,
                "next_page_uri": None,
                "previous_page_uri": None,
                "uri": uri,
            }
        )

    async def _fetch_message(self, request: Request) -> Response:
        if denied := self._authenticate(request):
            return denied
        sid = request.path_params["sid"]
        for message in self._messages:
            if message.sid == sid and message.account_sid == request.path_params["account_sid"]:
                return JSONResponse(message.resource())
        return twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")

    # --- status callbacks -------------------------------------------------------------------

    async def _report_status(self, message: FakeMessage) -> None:
        assert message.status_callback is not None
        token = self.accounts.get(message.account_sid, "")
        for status in ("sent", "delivered"):
            await asyncio.sleep(self.callback_delay_seconds)
            message.status = status
            message.date_updated = datetime.now(UTC)
            params = {
                "SmsSid": message.sid,
                "SmsStatus": status,
                "MessageStatus": status,
                "To": message.to,
                "MessageSid": message.sid,
                "AccountSid": message.account_sid,
                "From": message.from_,
                "ApiVersion": API_VERSION,
            }
            if status == "delivered":
                params["RawDlrDoneDate"] = message.date_updated.strftime("%y%m%d%H%M")
            headers = {
                SIGNATURE_HEADER: RequestValidator(token).compute_signature(
                    message.status_callback, params
                ),
                "I-Twilio-Idempotency-Token": secrets.token_hex(16),
                "User-Agent": "TwilioProxy/1.1",
            }
            try:
                if self._http is None:
                    self._http = httpx.AsyncClient(timeout=10.0)
                answer = await self._http.post(
                    message.status_callback, data=params, headers=headers
                )
            except httpx.HTTPError as exc:
                # Twilio does not retry a failed status callback either.
                log.warning(
                    "fake twilio: status callback for %s failed (%s)",
                    message.sid,
                    type(exc).__name__,
                )
                continue
            if answer.status_code >= 400:
                log.warning(
                    "fake twilio: status callback for %s answered %d",
                    message.sid,
                    answer.status_code,
                )


def _check_account_sid(sid: str) -> None:
    if not _ACCOUNT_SID.match(sid):
        raise ValueError("an account SID is AC followed by 32 hex digits")


def signed_inbound(
    url: str, auth_token: str, form: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """An inbound-SMS webhook as Twilio sends it to ``url``: (headers, form fields).

    Fields Twilio always sends are added when absent (MessageSid/SmsSid/SmsMessageSid,
    SmsStatus=received, NumMedia counted from MediaUrl0.., NumSegments, ApiVersion); pass
    them in ``form`` to choose their values (a fixed MessageSid to test de-duplication).
    The signature covers the completed fields, so POST them form-encoded, unchanged.
    """
    fields = dict(form)
    num_media = sum(1 for name in fields if re.fullmatch(r"MediaUrl\d+", name))
    sid = fields.get("MessageSid") or new_sid("MM" if num_media else "SM")
    defaults = {
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsMessageSid": sid,
        "SmsStatus": "received",
        "NumMedia": str(num_media),
        "NumSegments": str(max(1, segments(fields.get("Body", "")).segments)),
        "ApiVersion": API_VERSION,
    }
    for name, value in defaults.items():
        fields.setdefault(name, value)
    headers = {
        SIGNATURE_HEADER: RequestValidator(auth_token).compute_signature(url, fields),
        "Content-Type": "application/x-www-form-urlencoded",
        "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        "User-Agent": "TwilioProxy/1.1",
    }
    return headers, fields


class FakeTwilioServer(LoopbackServer):
    """``FakeTwilio`` under uvicorn in the caller's event loop, on ``host:port`` (port 0
    picks a free one; ``url`` after ``start`` is the base URL for ``TwilioSms``)."""

    def __init__(self, fake: FakeTwilio, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port, name="fake-twilio", lifespan="off", graceful_shutdown_s=2)
        self.fake = fake

    async def start(self) -> None:
        await self.serve(self.fake.app, self.bind())
        log.info("fake Twilio REST API on %s", self.url)

    async def stop(self) -> None:
        await super().stop()
        await self.fake.aclose()
