"""Errors of the LLM engine and phrasing.

Neither the engine nor phrasing lets one of these end a customer's turn: the engine answers
with the local engine's reading and phrasing with the template text (engine.py, phrasing.py).
They are raised by the clients and by ``LlmEngine.read``, for offline tools and tests.
``LlmRejected`` is a configuration problem (key, model name, base URL) that retrying will not
fix; the others may pass on their own.
"""

from __future__ import annotations


class LlmError(RuntimeError):
    """Base class: the model did not give a usable answer.

    ``status`` and ``detail``: the HTTP status and the error body's excerpt, with anything
    private taken out (redact.py), when the endpoint answered with an error."""

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class LlmTimeout(LlmError):
    """The endpoint did not answer within the time we could wait (the turn's budget, or
    ``llm_timeout_seconds`` where nobody waits)."""


class LlmUnavailable(LlmError):
    """Connection refused, rate limited (429) or a server error (5xx)."""


class LlmBadOutput(LlmError):
    """The answer was not the structured object we asked for (bad JSON, wrong schema, no tool
    call). Garbage is never used."""


class LlmRejected(LlmError):
    """The endpoint refused the request (400/401/403/404): a configuration problem (key, model
    name, base URL) that retrying will not fix. Workflows list it as non-retryable."""
