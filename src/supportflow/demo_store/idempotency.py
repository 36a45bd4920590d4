"""Run one store write exactly once per Idempotency-Key, in one database transaction.

The stored answer (status and body) is written in the same transaction as the effect, so a
retry after a lost response (timeout, or a fault injected after commit) gets the first answer
and changes nothing. Rejections (404/409) are stored too: the key names one attempt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from supportflow.demo_store.db import write_transaction
from supportflow.demo_store.repository import Doc, StoreRepository
from supportflow.store.errors import IdempotencyKeyReused, StoreError

MAX_KEY_LENGTH = 255
# Stored for a key that was refused before its request arrived (see release_order): any
# request under that key, of the same operation, replays the stored refusal.
PREEMPTED = "preempted"


@dataclass(frozen=True)
class WriteResult:
    status_code: int
    body: Doc
    replayed: bool = False


def request_hash(operation: str, target: str, body: dict[str, Any]) -> str:
    canonical = json.dumps([operation, target, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def execute_write(
    engine: Engine,
    *,
    operation: str,
    target: str,
    body: dict[str, Any],
    key: str | None,
    apply: Callable[[StoreRepository], Doc],
    success_status: int = 200,
    emit_webhooks: bool = False,
) -> WriteResult:
    """Apply ``apply`` once; raises IdempotencyKeyReused if the key came with another request.

    ``success_status``: the status of an applied write (201 for creations). ``emit_webhooks``:
    the write may put webhooks in the outbox, in this same transaction."""
    if key is not None and not 0 < len(key) <= MAX_KEY_LENGTH:
        raise IdempotencyKeyReused(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} characters")
    digest = request_hash(operation, target, body)
    with write_transaction(engine) as conn:
        repo = StoreRepository(conn, emit_webhooks=emit_webhooks)
        if key is not None:
            stored = repo.get_stored_response(key)
            if stored is not None:
                preempted = stored.request_hash == PREEMPTED and stored.operation == operation
                if not preempted and (stored.operation, stored.request_hash) != (
                    operation,
                    digest,
                ):
                    raise IdempotencyKeyReused(
                        f"Idempotency-Key {key!r} was already used for a different request"
                    )
                return WriteResult(stored.status_code, stored.body, replayed=True)
        try:
            # The savepoint undoes whatever a rule check raised midway through.
            with conn.begin_nested():
                result = WriteResult(success_status, apply(repo))
                repo.record_event(operation, target, key, body)
        except StoreError as exc:
            result = WriteResult(exc.status_code, {"detail": exc.detail})
        if key is not None:
            repo.store_response(key, operation, digest, result.status_code, result.body)
        return result
