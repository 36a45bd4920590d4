"""The web chat's wire format (``POST /v1/chat/messages``, ``GET /v1/chat/messages/{id}``,
``GET /v1/chat/updates``): what a merchant's back end or the widget sends and gets back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    visitor_id: str = Field(min_length=1, max_length=200, pattern=r"^[\w.:@-]+$")
    message_id: str = Field(min_length=1, max_length=200, pattern=r"^[\w.:@-]+$")
    text: str = Field(min_length=1)
    # An email the visitor *claims*: the agent sends a one-time code to it, nothing more.
    email: EmailStr | None = None
    # A signed identity token (HS256 JWT from the merchant's login, with the tenant's
    # identity secret): the only way a message arrives as a known customer.
    identity_token: str | None = Field(default=None, min_length=1, max_length=4096)


class ChatReplyOut(BaseModel):
    status: Literal["answered", "pending"]
    message_id: str
    customer_id: str
    reply: str | None = None
    intent: str | None = None
    duplicate: bool = False
    # Where to fetch the reply when status is "pending", and what to show the customer
    # meanwhile (their message is safe and will be answered).
    reply_url: str | None = None
    holding: str | None = None
    # A person holds the conversation: the agent said nothing, the person will answer (the
    # answer arrives through /v1/chat/updates or the WebSocket).
    held: bool = False


class ChatUpdate(BaseModel):
    """Something the agent or a person said: a reply, or a message sent outside one."""

    seq: int
    role: Literal["agent", "operator"]
    text: str
    at: datetime
    # For a reply: the id of the customer's message it answers.
    message_id: str


class ChatUpdatesOut(BaseModel):
    messages: list[ChatUpdate]
    # Ask for messages after this next time.
    last_seq: int
