"""A chat client that never gives up on a message early: built for stacks that crash under it.

Every message keeps one ``message_id`` however often it is sent: on a transport error, a 5xx
or a timeout the SAME id is sent again (the workflow de-duplicates by it), a 202 is polled at
its ``reply_url`` until answered, and only after ``reply_timeout_s`` in all is the message
recorded unanswered.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from supportflow.sim.model import SentMessage

# The API answers 202 after its own wait (20 s by default): a request outliving this is stuck.
REQUEST_TIMEOUT_S = 45.0
POLL_FIRST_S = 0.25
POLL_MAX_S = 3.0


class ChatClient:
    def __init__(self, http: httpx.AsyncClient, chat_key: str, reply_timeout_s: float) -> None:
        self._http = http
        self._headers = {"X-Chat-Key": chat_key}
        self._reply_timeout_s = reply_timeout_s

    async def send(
        self, visitor_id: str, message_id: str, text: str, email: str | None = None
    ) -> tuple[SentMessage, dict[str, Any]]:
        """Send one message until it is answered or the reply timeout passes.

        Returns the record and the last answer's JSON (empty when unanswered)."""
        sent = SentMessage(message_id=message_id, text=text, sent_at=time.time())
        started = time.monotonic()
        deadline = started + self._reply_timeout_s
        body = {"visitor_id": visitor_id, "message_id": message_id, "text": text, "email": email}
        backoff = POLL_FIRST_S
        while time.monotonic() < deadline:
            sent.attempts += 1
            doc = await self._post(body, deadline, sent)
            if doc is not None and doc.get("status") == "pending":
                doc = await self._poll(str(doc.get("reply_url") or ""), deadline, sent)
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
        self, body: dict[str, Any], deadline: float, sent: SentMessage
    ) -> dict[str, Any] | None:
        timeout = max(0.1, min(REQUEST_TIMEOUT_S, deadline - time.monotonic()))
        try:
            r = await self._http.post(
                "/v1/chat/messages", json=body, headers=self._headers, timeout=timeout
            )
        except httpx.HTTPError as err:  # transport errors and timeouts alike: send again
            sent.error = f"transport: {type(err).__name__}"
            return None
        if r.status_code >= 500:
            sent.error = f"http {r.status_code}"
            return None
        if r.status_code not in (200, 202):
            # A 4xx will not change on a resend (bad key, malformed body): give up now.
            sent.error = f"refused: http {r.status_code} {r.text[:200]}"
            return None
        return _json(r)

    async def _poll(self, url: str, deadline: float, sent: SentMessage) -> dict[str, Any] | None:
        """Follow a 202 until answered; None means "send the message again"."""
        delay = POLL_FIRST_S
        while url and time.monotonic() < deadline:
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.5, POLL_MAX_S)
            timeout = max(0.1, min(REQUEST_TIMEOUT_S, deadline - time.monotonic()))
            try:
                r = await self._http.get(url, headers=self._headers, timeout=timeout)
            except httpx.HTTPError as err:
                sent.error = f"transport while polling: {type(err).__name__}"
                continue
            if r.status_code == 200:
                return _json(r)
            if r.status_code == 202:
                continue
            # 404 (the workflow lost track, say after a restart) or 5xx: resend the message.
            sent.error = f"poll http {r.status_code}"
            return None
        return None


def _json(r: httpx.Response) -> dict[str, Any] | None:
    try:
        doc = r.json()
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
