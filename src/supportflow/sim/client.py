"""A chat client that never gives up on a message early: built for stacks that crash under it.

Every message keeps one ``message_id`` however often it is sent: on a transport error, a 5xx
or a timeout the SAME id is sent again (the workflow de-duplicates by it), a 202 is polled at
its ``reply_url`` until answered, and only after ``reply_timeout_s`` in all is the message
recorded unanswered.

Every message of a known customer carries a signed identity token (as a store's own chat
widget does for its logged-in shoppers): the client signs a fresh one for each request with
the tenant's identity secret, so a message retried for minutes never goes out expired.

The simulator stands in for many shoppers, each with an address of its own: like a reverse
proxy, it names each one's address in ``X-Forwarded-For`` (``shopper_address``). A stack that
trusts the simulator as a proxy (the ones it starts do) then applies its per-address rate
limits per shopper, as in production; one that does not counts them all as one address. A
429 is waited out (``Retry-After``) and the same message sent again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass
from typing import Any

import httpx

from supportflow.identity.tokens import sign_identity_token
from supportflow.sim.model import SentMessage

# The API answers 202 after its own wait (20 s by default): a request outliving this is stuck.
REQUEST_TIMEOUT_S = 45.0
POLL_FIRST_S = 0.25
POLL_MAX_S = 3.0
# A token is signed per request; this only needs to outlive one request.
TOKEN_TTL_S = 15 * 60
# Without a usable Retry-After, a throttled message waits this long before it is sent again.
THROTTLED_WAIT_S = 1.0
# Simulated shoppers' addresses: RFC 2544's range for benchmarking (198.18.0.0/15), which no
# real client has.
_SHOPPERS = ipaddress.IPv4Network("198.18.0.0/15")


def shopper_address(index: int) -> str:
    """The address of simulated shopper ``index`` (distinct for 131,072 shoppers)."""
    return str(_SHOPPERS[index % _SHOPPERS.num_addresses])


class ChatClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        chat_key: str,
        reply_timeout_s: float,
        identity_secret: str | None = None,
    ) -> None:
        self._http = http
        self._headers = {"X-Chat-Key": chat_key}
        self._reply_timeout_s = reply_timeout_s
        self._identity_secret = identity_secret

    def _body(
        self, visitor_id: str, message_id: str, text: str, as_email: str | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"visitor_id": visitor_id, "message_id": message_id, "text": text}
        if as_email is not None:
            assert self._identity_secret  # checked in send()
            body["identity_token"] = sign_identity_token(
                self._identity_secret, email=as_email, ttl_seconds=TOKEN_TTL_S
            )
        return body

    async def send(
        self,
        visitor_id: str,
        message_id: str,
        text: str,
        as_email: str | None = None,
        from_address: str | None = None,
    ) -> tuple[SentMessage, dict[str, Any]]:
        """Send one message until it is answered or the reply timeout passes; with
        ``as_email``, as that customer, verified by a signed identity token (anonymous
        otherwise); with ``from_address``, as coming from that address (X-Forwarded-For).

        Returns the record and the last answer's JSON (empty when unanswered)."""
        if as_email is not None and not self._identity_secret:
            raise ValueError("speaking as a verified customer needs the tenant's identity secret")
        headers = dict(self._headers)
        if from_address is not None:
            headers["X-Forwarded-For"] = from_address
        sent = SentMessage(message_id=message_id, text=text, sent_at=time.time())
        started = time.monotonic()
        deadline = started + self._reply_timeout_s
        backoff = POLL_FIRST_S
        while time.monotonic() < deadline:
            sent.attempts += 1
            body = self._body(visitor_id, message_id, text, as_email)
            posted = await self._post(body, headers, deadline, sent)
            if isinstance(posted, _Throttled):
                # Not taken: the same message goes again when the API allows (its pace).
                left = deadline - time.monotonic()
                await asyncio.sleep(max(0.0, min(posted.retry_after_s, left)))
                continue
            doc = posted
            if doc is not None and doc.get("status") == "pending":
                doc = await self._poll(str(doc.get("reply_url") or ""), headers, deadline, sent)
            if doc is not None and doc.get("status") == "answered":
                sent.answered_at = time.time()
                sent.latency_s = time.monotonic() - started
                sent.reply = str(doc.get("reply") or "")
                sent.intent = doc.get("intent")
                sent.duplicate = sent.duplicate or bool(doc.get("duplicate"))
                sent.error = None
                return sent, doc
            if sent.error is not None and sent.error.startswith("refused"):
                break
            await asyncio.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
            backoff = min(backoff * 2, POLL_MAX_S)
        if sent.error is None:
            sent.error = f"no answer within {self._reply_timeout_s:.0f}s"
        return sent, {}

    async def _post(
        self, body: dict[str, Any], headers: dict[str, str], deadline: float, sent: SentMessage
    ) -> dict[str, Any] | _Throttled | None:
        timeout = max(0.1, min(REQUEST_TIMEOUT_S, deadline - time.monotonic()))
        try:
            r = await self._http.post(
                "/v1/chat/messages", json=body, headers=headers, timeout=timeout
            )
        except httpx.HTTPError as err:  # transport errors and timeouts alike: send again
            sent.error = f"transport: {type(err).__name__}"
            return None
        if r.status_code >= 500:
            sent.error = f"http {r.status_code}"
            return None
        if r.status_code == 429:
            sent.throttled += 1
            sent.error = "http 429"
            return _Throttled(_retry_after(r))
        if r.status_code not in (200, 202):
            # Any other 4xx will not change on a resend (bad key, a refused identity token,
            # a malformed body): give up now.
            sent.error = f"refused: http {r.status_code} {r.text[:200]}"
            return None
        return _json(r)

    async def _poll(
        self, url: str, headers: dict[str, str], deadline: float, sent: SentMessage
    ) -> dict[str, Any] | None:
        """Follow a 202 until answered; None means "send the message again"."""
        delay = POLL_FIRST_S
        while url and time.monotonic() < deadline:
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.5, POLL_MAX_S)
            timeout = max(0.1, min(REQUEST_TIMEOUT_S, deadline - time.monotonic()))
            try:
                r = await self._http.get(url, headers=headers, timeout=timeout)
            except httpx.HTTPError as err:
                sent.error = f"transport while polling: {type(err).__name__}"
                continue
            if r.status_code == 200:
                return _json(r)
            if r.status_code == 202:
                continue
            if r.status_code == 429:
                sent.throttled += 1
                delay = max(delay, _retry_after(r))
                continue
            # 404 (the workflow lost track, say after a restart) or 5xx: resend the message.
            sent.error = f"poll http {r.status_code}"
            return None
        return None


@dataclass(frozen=True)
class _Throttled:
    """A 429: how long the API asked us to wait before sending again."""

    retry_after_s: float


def _retry_after(r: httpx.Response) -> float:
    """Retry-After in seconds (the API sends seconds, not an HTTP date); the message's own
    deadline bounds the wait."""
    try:
        return max(0.1, float(r.headers.get("Retry-After", "")))
    except ValueError:
        return THROTTLED_WAIT_S


def _json(r: httpx.Response) -> dict[str, Any] | None:
    try:
        doc = r.json()
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
