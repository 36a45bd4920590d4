"""Request and response bodies of the public API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# The chat wire format is part of the cross-language contract (issue 16); re-exported here.
from supportflow.contract.chat import ChatMessageIn, ChatReplyOut, ChatUpdate, ChatUpdatesOut

__all__ = ["ChatMessageIn", "ChatReplyOut", "ChatUpdate", "ChatUpdatesOut", "Problem"]


class Problem(BaseModel):
    """An error the caller can act on; ``detail`` says what is wrong (a list of fields for a
    body that failed validation, a sentence otherwise)."""

    detail: str | list[dict[str, Any]]
