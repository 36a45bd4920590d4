"""Send an SMS through Twilio's REST Messages API with the official ``twilio`` client.

Async all the way: ``messages.create_async`` on the official client, so a send never
blocks the event loop and, unlike a call run in a thread, is really cancelled when the
activity is (a thread cannot be stopped and would hold a pool slot until Twilio answered).

The client's HTTP transport is ours (``HttpxTransport``, twilio's documented extension
point: any ``twilio.http.AsyncHttpClient``), over httpx like the rest of the project. The
library's own ``AsyncTwilioHttpClient`` (aiohttp) does not fit as shipped in 9.13.0:

- its ``timeout`` is never applied (it hands aiohttp the per-request timeout, None from
  ``create_async``, which means wait forever);
- it authenticates with ``aiohttp.BasicAuth``, deprecated in the aiohttp it pulls in
  (3.14): a DeprecationWarning per send, an error under the test suite's warning policy.

Request building, auth, form encoding and error parsing stay the library's.

Base URL: the REST host is ``client.api.base_url`` (the ``api`` domain's base, normally
``https://api.twilio.com``); setting it is the one difference between production and the
local stand-in (``fake_twilio``). ``TWILIO_EDGE`` / ``TWILIO_REGION`` in the environment
would rewrite that host, so the client is built with them explicitly empty.

Errors: a 4xx from Twilio is a verdict about this message (21610 the recipient replied STOP,
21211 not a valid number, 20003 wrong credentials): ``SmsRejected``, do not retry. 429 (rate
limit), 5xx, a timeout or a connection failure: ``SmsDeferred``, retry later. Twilio's error
text names the phone number, so it is never logged or carried in our exceptions: only codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
from pydantic import SecretStr
from twilio.base import values  # type: ignore[import-untyped]
from twilio.base.exceptions import (  # type: ignore[import-untyped]
    TwilioRestException,
    TwilioServiceException,
)
from twilio.rest import Client  # type: ignore[import-untyped]

from supportflow.channels.sms.transport import HttpxTransport

log = logging.getLogger(__name__)

TWILIO_API_BASE_URL = "https://api.twilio.com"

# Errors Twilio reports with a 4xx that are about load, not about the message.
_RETRYABLE_STATUS = frozenset({408, 429})


@dataclass(frozen=True)
class SentSms:
    sid: str
    status: str


class SmsError(Exception):
    """A send that did not go through. Messages carry codes only, never numbers or text."""


class SmsRejected(SmsError):
    """Twilio refused this message (4xx); sending it again would be refused again."""

    def __init__(self, code: int, status: int) -> None:
        super().__init__(f"Twilio refused the message: HTTP {status}, error {code}")
        self.code = code
        self.status = status


class SmsDeferred(SmsError):
    """Twilio could not be reached or failed (5xx, 429, timeout); retry later.

    ``maybe_sent`` is False only when no request reached Twilio (the connection was never
    made). Otherwise Twilio may have queued the message before failing to answer, and the
    REST Messages API has no idempotency key: a retry can send a second copy.
    """

    def __init__(self, reason: str, *, maybe_sent: bool, status: int | None = None) -> None:
        super().__init__(reason)
        self.maybe_sent = maybe_sent
        self.status = status


class TwilioSms:
    """One Twilio account's REST sender.

    Use as ``async with TwilioSms(...) as sms`` to share one connection pool across sends;
    used without ``async with``, each ``send`` opens and closes its own connection.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: SecretStr | str,
        *,
        base_url: str | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        if not account_sid:
            raise ValueError("account_sid is required")
        token = auth_token.get_secret_value() if isinstance(auth_token, SecretStr) else auth_token
        if not token:
            raise ValueError("auth_token is required")
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self._account_sid = account_sid
        self._token = SecretStr(token)
        self._base_url = (base_url or TWILIO_API_BASE_URL).rstrip("/")
        self._timeout = timeout_seconds
        self._http: httpx.AsyncClient | None = None  # shared inside `async with`

    async def __aenter__(self) -> TwilioSms:
        self._http = twilio_http_client(self._timeout)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._http is not None:
            yield self._http
            return
        async with twilio_http_client(self._timeout) as http:
            yield http

    def _client(self, http: httpx.AsyncClient) -> Any:
        client = Client(
            self._account_sid,
            self._token.get_secret_value(),
            http_client=HttpxTransport(http),
            # Not os.environ: TWILIO_EDGE / TWILIO_REGION there would re-route the host.
            environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""},
        )
        client.api.base_url = self._base_url
        return client

    async def send(
        self, *, from_: str, to: str, body: str, status_callback: str | None = None
    ) -> SentSms:
        """Create the message; Twilio answers 201 with status "queued" and delivers later
        (delivery shows up at ``status_callback``, if given)."""
        try:
            # httpx bounds each phase (connect, read...); this bounds the whole send.
            async with asyncio.timeout(self._timeout), self._connection() as http:
                message = await self._client(http).messages.create_async(
                    to=to,
                    from_=from_,
                    body=body,
                    status_callback=values.unset if status_callback is None else status_callback,
                )
        except (TwilioRestException, TwilioServiceException) as exc:
            status = int(exc.status)
            code = _int_or(exc.code, status)
            if status in _RETRYABLE_STATUS or status >= 500:
                log.warning("twilio send deferred: HTTP %d, error %d", status, code)
                raise SmsDeferred(
                    f"Twilio answered HTTP {status}, error {code}", maybe_sent=True, status=status
                ) from None
            log.warning("twilio send rejected: HTTP %d, error %d", status, code)
            raise SmsRejected(code, status) from None
        except (httpx.ConnectError, httpx.ConnectTimeout):
            # Connection refused, DNS failure, no TCP handshake: nothing reached Twilio.
            log.warning("twilio send deferred: cannot connect")
            raise SmsDeferred("cannot connect to Twilio", maybe_sent=False) from None
        except (TimeoutError, httpx.TimeoutException):
            log.warning("twilio send deferred: no answer within %.1fs", self._timeout)
            raise SmsDeferred("Twilio did not answer in time", maybe_sent=True) from None
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            # A dropped connection mid-request, or a 2xx answer that is not JSON.
            log.warning("twilio send deferred: %s", type(exc).__name__)
            raise SmsDeferred(
                f"Twilio request failed ({type(exc).__name__})", maybe_sent=True
            ) from None
        sid, status = message.sid, message.status
        if not isinstance(sid, str) or not sid:
            raise SmsDeferred("Twilio answered without a message sid", maybe_sent=True)
        log.info("twilio message created: sid=%s", sid)
        return SentSms(sid=sid, status=str(status or "queued"))


def _int_or(value: object, default: int) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default


@functools.cache
def _tls() -> ssl.SSLContext:
    # Building the CA store takes ~20-60 ms; once per process, not once per unpooled send.
    return httpx.create_ssl_context(trust_env=False)


def twilio_http_client(timeout_seconds: float) -> httpx.AsyncClient:
    """An HTTP client for Twilio's API (the process's one TLS context: a new one costs
    ~30 ms of CPU)."""
    # No redirects (Twilio's API does not redirect; following one would resend the body)
    # and no proxy from the environment picked up silently for a secret-bearing request.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds),
        follow_redirects=False,
        trust_env=False,
        verify=_tls(),
    )
