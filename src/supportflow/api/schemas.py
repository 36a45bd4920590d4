"""Request and response bodies of the public API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    visitor_id: str = Field(min_length=1, max_length=200, pattern=r"^[\w.:@-]+$")
    message_id: str = Field(min_length=1, max_length=200, pattern=r"^[\w.:@-]+$")
    text: str = Field(min_length=1)
    email: EmailStr | None = None


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
