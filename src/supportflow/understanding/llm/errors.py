"""Errors of the LLM engine and phrasing.

Every class here except ``LlmRejected`` is worth retrying: the activity raises it and Temporal's
retry policy (not an SDK's hidden retry loop) decides when to try again and when to give up.
"""

from __future__ import annotations


class LlmError(RuntimeError):
    """Base class: the model did not give a usable answer."""


class LlmTimeout(LlmError):
    """The endpoint did not answer within ``llm_timeout_seconds``."""


class LlmUnavailable(LlmError):
    """Connection refused, rate limited (429) or a server error (5xx)."""


class LlmBadOutput(LlmError):
    """The answer was not the structured object we asked for (bad JSON, wrong schema, no tool
    call). Retried: sampling often gives a valid answer the next time; garbage is never used."""


class LlmRejected(LlmError):
    """The endpoint refused the request (400/401/403/404): a configuration problem (key, model
    name, base URL) that retrying will not fix. Workflows should list it as non-retryable."""
