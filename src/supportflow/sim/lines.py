"""How one simulated customer reaches the store: a line per channel, the same to the runner.

``send`` delivers one thing the customer says and returns the messages that took (each with
its answer, frame stripped, or recorded unanswered):

- chat: one message as the logged-in shopper (a signed identity token);
- SMS: one text from the phone number on the customer's store account (which verifies it);
- email: one mail from the account's address, in the thread of the latest answer. A first
  mail proves nothing (a From header is no proof), so the agent asks the customer to reply
  in the thread to confirm it is them; the customer does ("Yes, that's me."), and the answer
  to that reply, which carries on with the request, is the answer the script reads. Both
  mails are recorded;
- chat, then email or SMS: the first thing said in chat, the rest on the other channel.

``transcript_ids`` are the ids the conversation's transcript holds the messages under, for
finding an email or SMS conversation (``locate``).
"""

from __future__ import annotations

import random
from typing import Protocol

import httpx

from supportflow.sim.client import ChatClient, shopper_address
from supportflow.sim.email_client import EmailClient, Thread, compose
from supportflow.sim.locate import transcript_ids
from supportflow.sim.mix import ends_on
from supportflow.sim.model import ConversationResult, SentMessage
from supportflow.sim.population import Doc
from supportflow.sim.sms_client import SmsClient, message_sid

# What an email customer answers to "reply to this email to confirm it's you".
CONFIRM = "Yes, that's me."
# The agent's ask, in its answer by email (replies/templates.py, *.email wordings).
_ASKS_TO_CONFIRM = "reply to this email"
# How often a simulated mail client quotes the message it replies to.
QUOTE_SHARE = 0.5
# Subjects are the start of the first mail, as people write them.
_SUBJECT_CHARS = 60


class Line(Protocol):
    async def send(self, conv: ConversationResult, text: str) -> list[SentMessage]: ...

    def transcript_ids(self) -> list[str]: ...


class ChatLine:
    def __init__(self, chat: ChatClient) -> None:
        self._chat = chat
        self._ids: list[str] = []

    async def send(self, conv: ConversationResult, text: str) -> list[SentMessage]:
        # Every message as the verified customer (a signed token), as a logged-in shopper's
        # widget sends them: an unsigned one would be taken as an anonymous visitor's.
        message_id = f"{conv.visitor_id}-m{len(conv.messages)}"
        sent, doc = await self._chat.send(
            conv.visitor_id,
            message_id,
            text,
            as_email=conv.email,
            from_address=shopper_address(conv.index),
        )
        self._ids.append(message_id)
        if doc.get("customer_id"):
            conv.customer_id = str(doc["customer_id"])
        return [sent]

    def transcript_ids(self) -> list[str]:
        return list(self._ids)


class SmsLine:
    def __init__(self, sms: SmsClient, phone: str) -> None:
        self._sms = sms
        self._phone = phone
        self._ids: list[str] = []

    async def send(self, conv: ConversationResult, text: str) -> list[SentMessage]:
        sid = message_sid(f"{conv.visitor_id}-m{len(conv.messages)}")
        self._ids += transcript_ids("sms", sid)
        return [await self._sms.send(self._phone, sid, text)]

    def transcript_ids(self) -> list[str]:
        return list(self._ids)


class EmailLine:
    def __init__(self, email: EmailClient, sender: tuple[str, str], rng: random.Random) -> None:
        self._email = email
        self._sender = sender
        self._rng = rng  # the mail client's quoting, apart from the script's own stream
        self._thread: Thread | None = None
        self._confirmed = False
        self._ids: list[str] = []

    async def send(self, conv: ConversationResult, text: str) -> list[SentMessage]:
        sent = await self._mail(conv, text, 0)
        out = [sent]
        if sent.reply is not None and not self._confirmed and _ASKS_TO_CONFIRM in sent.reply:
            self._confirmed = True  # once: a second ask is the script's to notice
            out.append(await self._mail(conv, CONFIRM, 1))
        return out

    async def _mail(self, conv: ConversationResult, text: str, extra: int) -> SentMessage:
        domain = self._sender[1].rpartition("@")[2] or "example.com"
        message_id = f"<{conv.visitor_id}-m{len(conv.messages) + extra}@{domain}>"
        self._ids += transcript_ids("email", message_id)
        quote = self._thread is not None and self._rng.random() < QUOTE_SHARE
        mail = compose(
            message_id=message_id,
            sender=self._sender,
            to=self._email.support_email,
            text=text,
            subject=_subject(text),
            thread=self._thread,
            quote=quote,
        )
        sent, answer = await self._email.send(mail, text)
        if answer is not None:
            self._thread = Thread.of(answer) or self._thread
        return sent

    def transcript_ids(self) -> list[str]:
        return list(self._ids)


class SwitchLine:
    """The first thing said in chat, everything after on the other channel."""

    def __init__(self, first: ChatLine, then: Line) -> None:
        self._first = first
        self._then = then
        self._switched = False

    async def send(self, conv: ConversationResult, text: str) -> list[SentMessage]:
        if self._switched:
            return await self._then.send(conv, text)
        self._switched = True
        return await self._first.send(conv, text)

    def transcript_ids(self) -> list[str]:
        return [*self._first.transcript_ids(), *self._then.transcript_ids()]


def _subject(text: str) -> str:
    line = " ".join(text.split())
    if len(line) <= _SUBJECT_CHARS:
        return line
    return line[:_SUBJECT_CHARS].rsplit(" ", 1)[0] + "..."


class Lines:
    """Makes each conversation's line from the run's clients."""

    def __init__(
        self,
        chat: ChatClient,
        store: httpx.AsyncClient,
        seed: int,
        email: EmailClient | None = None,
        sms: SmsClient | None = None,
    ) -> None:
        self._chat = chat
        self._store = store
        self._seed = seed
        self._email = email
        self._sms = sms

    async def line(self, label: str, conv: ConversationResult, user_id: str) -> Line:
        channel = ends_on(label)
        if channel == "chat":
            return ChatLine(self._chat)
        user = await self._user(user_id)
        if channel == "sms":
            if self._sms is None:
                raise RuntimeError("SMS customers need an SMS client")
            phone = user.get("phone")
            if not phone:
                raise RuntimeError(f"the store's user {user_id} has no phone number")
            other: Line = SmsLine(self._sms, str(phone))
        else:
            if self._email is None:
                raise RuntimeError("email customers need an email client")
            name = user.get("name") or {}
            full = f"{name.get('first_name', '')} {name.get('last_name', '')}".strip()
            rng = random.Random(f"{self._seed}:{conv.index}:email")
            other = EmailLine(self._email, (full, conv.email), rng)
        return SwitchLine(ChatLine(self._chat), other) if label.startswith("chat+") else other

    async def _user(self, user_id: str) -> Doc:
        r = await self._store.get(f"/users/{user_id}")
        r.raise_for_status()
        doc: Doc = r.json()
        return doc
