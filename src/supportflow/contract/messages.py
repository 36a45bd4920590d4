"""A customer's message on any channel, sent by the merchant's back end (``POST /v1/messages``
with the tenant's API key, ``GET /v1/messages/{message_id}`` for a pending reply): what a
merchant's Node service sends and gets back.

``from`` is who wrote, in the channel's own terms: the chat visitor id, the customer's email
address, or an E.164 phone number. On its own it proves nothing, as on the channel itself (by
email or SMS the agent asks the customer to prove who they are before any account detail);
a signed identity token does.
"""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict, JsonValue

MessageChannel = Literal["chat", "email", "sms"]

# The chat API's visitor and message ids.
ID_PATTERN = r"^[\w.:@-]+$"
# E.164: "+", a country code and the number, 8 to 15 digits in all.
E164_PATTERN = r"^\+[1-9][0-9]{7,14}$"
# One address, no display name: something@domain.tld (the API checks it fully).
EMAIL_PATTERN = r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$"

_FROM_PATTERNS = {"chat": ID_PATTERN, "email": EMAIL_PATTERN, "sms": E164_PATTERN}
_FROM_MEANS = {
    "chat": "a visitor id (letters, digits, _.:@-)",
    "email": "one email address (no display name)",
    "sms": "an E.164 phone number such as +14155550123",
}


_RULES: list[JsonValue] = [
    {
        "if": {"properties": {"channel": {"const": channel}}},
        "then": {"properties": {"from": {"type": "string", "pattern": pattern}}},
    }
    for channel, pattern in _FROM_PATTERNS.items()
]
_RULES.append(
    {
        "if": {"properties": {"channel": {"enum": ["chat", "sms"]}}},
        "then": {"properties": {"subject": {"type": "null"}}},
    }
)
_SCHEMA_RULES: JsonDict = {"allOf": _RULES}


class MessageIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        title="MessageIn",
        populate_by_name=True,
        # What the validator below checks, for the schema's readers (the SDK checks it too).
        json_schema_extra=_SCHEMA_RULES,
    )

    channel: MessageChannel
    # The chat visitor id, the customer's email address or E.164 phone number.
    sender: str = Field(alias="from", min_length=1, max_length=320)
    text: str = Field(min_length=1)
    # The merchant's id for this message: the same id again is the same message (its first
    # reply is returned, never a second turn).
    message_id: str = Field(min_length=1, max_length=200, pattern=ID_PATTERN)
    # Email only: the subject of the customer's mail (the answer's is "Re: " it).
    subject: str | None = Field(default=None, min_length=1, max_length=998)
    # A signed identity token (HS256 JWT with the tenant's identity secret), as the chat API
    # takes it: the only way a message arrives as a known customer.
    identity_token: str | None = Field(default=None, min_length=1, max_length=4096)

    @model_validator(mode="after")
    def _from_fits_the_channel(self) -> Self:
        if not re.fullmatch(_FROM_PATTERNS[self.channel], self.sender):
            raise ValueError(f"from must be {_FROM_MEANS[self.channel]} on channel {self.channel}")
        if self.subject is not None and self.channel != "email":
            raise ValueError("subject is for the email channel only")
        return self


class MessageReplyOut(BaseModel):
    model_config = ConfigDict(title="MessageReplyOut", populate_by_name=True)

    status: Literal["answered", "pending"]
    channel: MessageChannel
    # The merchant's message id.
    message_id: str
    customer_id: str
    # The sender as supportflow keeps it (an email address in lower case, E.164).
    sender: str = Field(alias="from")
    reply: str | None = None
    intent: str | None = None
    # The same message_id came before: this is the first one's reply.
    duplicate: bool = False
    # Where to fetch the reply when status is "pending" (GET, same API key).
    reply_url: str | None = None
    # A person holds the conversation: the agent said nothing, the person will answer.
    held: bool = False
