"""Errors of the demo store, shared by the server (raises them) and the client (re-raises them).

The split is what a caller's retry policy needs: ``StoreUnavailable`` is transient (retry),
``StoreRejected`` and ``StoreNotFound`` are permanent (retrying cannot change the answer).
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class; ``status_code`` is the HTTP status that carried the error, if any."""

    default_status = 500

    def __init__(self, detail: str, *, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code if status_code is not None else self.default_status


class StoreNotFound(StoreError):
    """The user, order or product does not exist (404). Permanent."""

    default_status = 404


class StoreRejected(StoreError):
    """A business rule or a malformed request refused the operation (409/422). Permanent."""

    default_status = 409


class IdempotencyKeyReused(StoreRejected):
    """The same Idempotency-Key arrived with a different request (422). Permanent."""

    default_status = 422


class StoreUnavailable(StoreError):
    """5xx, timeout or connection failure. Transient: retry with the same idempotency key."""

    default_status = 503
