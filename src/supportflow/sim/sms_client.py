"""An SMS customer: texts arrive as Twilio posts them (a signed webhook), answers are read
from what the tenant sent through Twilio (``/dev/sms`` in `supportflow up`). Same contract
as ``ChatClient``: never gives up early.

A text keeps its ``MessageSid`` however often it is posted: a transport error, a 5xx or a
429 posts the SAME text again (the API de-duplicates by MessageSid), each time freshly
signed as Twilio signs (``fake_twilio.signed_inbound``); any other 4xx (a bad signature, an
unknown tenant) will not change and ends the attempt. The answer is every message sent to
the customer's number after the text, complete once an answer sent whole or every part of a
split one (" (1/2)", " (2/2)") is there; ``reply`` is its text without the "<Store>: "
prefix and the part markers.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import defaultdict
from typing import Any

import httpx

from supportflow.channels.sms.fake_twilio import signed_inbound
from supportflow.sim.frames import sms_complete, strip_sms_frame
from supportflow.sim.model import SentMessage

POST_FIRST_S = 0.5
POST_MAX_S = 5.0
REQUEST_TIMEOUT_S = 30.0
# How often a waiting customer looks again (the watcher reads /dev/sms at its own pace).
WAIT_STEP_S = 0.1
# /dev/sms is read newest first: a page this long covers what is sent between two reads.
PAGE = 200


def message_sid(key: str) -> str:
    """A Twilio-shaped MessageSid that depends only on ``key`` (the same on every resend)."""
    return "SM" + hashlib.sha256(key.encode()).hexdigest()[:32]


class SmsWatcher:
    """What the tenant sent to each number, in order, read for all SMS customers at once."""

    def __init__(self, api: httpx.AsyncClient, api_key: str, interval_s: float = 0.25) -> None:
        self._api = api
        self._headers = {"X-Api-Key": api_key}
        self._interval_s = interval_s
        self._seen: set[str] = set()
        self._to: dict[str, list[str]] = defaultdict(list)  # number -> bodies, oldest first
        self._lock = asyncio.Lock()
        self._last_read = 0.0
        self.error: str | None = None  # the last failed read, if the latest one failed

    async def count(self, number: str) -> int:
        """How many messages were sent to ``number`` so far (a cursor for ``since``)."""
        await self._read_if_stale(force=True)
        return len(self._to[number])

    async def since(self, number: str, cursor: int) -> list[str]:
        """Messages sent to ``number`` after ``cursor`` (read again if stale)."""
        await self._read_if_stale()
        return self._to[number][cursor:]

    async def _read_if_stale(self, force: bool = False) -> None:
        async with self._lock:
            if not force and time.monotonic() - self._last_read < self._interval_s:
                return
            try:
                r = await self._api.get(
                    "/dev/sms",
                    params={"limit": PAGE},
                    headers=self._headers,
                    timeout=REQUEST_TIMEOUT_S,
                )
                r.raise_for_status()
                page: list[dict[str, Any]] = r.json()
            except (httpx.HTTPError, ValueError) as err:
                self.error = f"/dev/sms unreadable: {type(err).__name__}"
                return  # read again at the next call
            finally:
                self._last_read = time.monotonic()
            self.error = None
            for m in reversed(page):  # newest first on the page
                sid = str(m.get("sid", ""))
                if sid and sid not in self._seen:
                    self._seen.add(sid)
                    self._to[str(m.get("to", ""))].append(str(m.get("body", "")))


class SmsClient:
    def __init__(
        self,
        api: httpx.AsyncClient,
        tenant_id: str,
        auth_token: str,
        sms_number: str,
        watcher: SmsWatcher,
        reply_timeout_s: float,
    ) -> None:
        self._api = api
        self._path = f"/v1/channels/twilio/sms/{tenant_id}"
        # Twilio signs the URL it calls: the API's public URL (its own, on a local stack).
        self._url = f"{str(api.base_url).rstrip('/')}{self._path}"
        self._auth_token = auth_token
        self.sms_number = sms_number
        self._watcher = watcher
        self._reply_timeout_s = reply_timeout_s

    async def send(self, phone: str, sid: str, text: str) -> SentMessage:
        """Text ``text`` from ``phone`` as MessageSid ``sid`` until answered or timed out."""
        sent = SentMessage(message_id=sid, text=text, sent_at=time.time(), channel="sms")
        started = time.monotonic()
        deadline = started + self._reply_timeout_s
        # Anything sent to this number before (a late extra message) is not this answer.
        cursor = await self._watcher.count(phone)
        if not await self._post(phone, sid, text, deadline, sent):
            if sent.error is None:
                sent.error = f"not accepted within {self._reply_timeout_s:.0f}s"
            return sent
        while True:
            bodies = await self._watcher.since(phone, cursor)
            if sms_complete(bodies):
                sent.answered_at = time.time()
                sent.latency_s = time.monotonic() - started
                sent.reply = strip_sms_frame(bodies)
                sent.error = None
                return sent
            left = deadline - time.monotonic()
            if left <= 0:
                sent.error = self._watcher.error or (
                    f"no answer within {self._reply_timeout_s:.0f}s"
                    + (f" ({len(bodies)} part(s) of it)" if bodies else "")
                )
                return sent
            await asyncio.sleep(min(WAIT_STEP_S, left))

    async def _post(
        self, phone: str, sid: str, text: str, deadline: float, sent: SentMessage
    ) -> bool:
        backoff = POST_FIRST_S
        while time.monotonic() < deadline:
            sent.attempts += 1
            headers, form = signed_inbound(
                self._url,
                self._auth_token,
                {"From": phone, "To": self.sms_number, "Body": text, "MessageSid": sid},
            )
            timeout = max(0.1, min(REQUEST_TIMEOUT_S, deadline - time.monotonic()))
            try:
                r = await self._api.post(self._path, data=form, headers=headers, timeout=timeout)
            except httpx.HTTPError as err:
                sent.error = f"transport: {type(err).__name__}"
            else:
                if r.status_code == 200:
                    return True
                if r.status_code == 429:
                    sent.throttled += 1
                    sent.error = "http 429"
                elif r.status_code < 500:
                    # A refused signature or an unknown tenant: posting again changes nothing.
                    sent.error = f"refused: http {r.status_code} {r.text[:200]}"
                    return False
                else:
                    sent.error = f"http {r.status_code}"
            await asyncio.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
            backoff = min(backoff * 2, POST_MAX_S)
        return False
