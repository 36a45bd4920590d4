"""What an audit entry is, its canonical form and its hash.

The hash of an entry is SHA-256 over a canonical JSON of every field that says what happened
(tenant, seq, time, actor, action, target, details, workflow/run/request ids, idempotency key)
plus the previous entry's hash: editing any of them, or the link, changes the hash, and every
later entry's link with it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

# The first entry of every chain links to this.
GENESIS = "0" * 64

MAX_ACTOR_ID = 255
MAX_TARGET = 255
MAX_DETAIL_KEYS = 32
MAX_DETAIL_ITEMS = 50

# Dotted lower-case names: store.cancel_order, approval.approve, operator.login.
ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
# Ids, codes and amounts only: no spaces (names, message text) and no "@" (emails), so
# personal data cannot slip into the trail through a detail value.
_SAFE_TEXT = re.compile(r"^[A-Za-z0-9_#:.+\-/]{0,128}$")
_SAFE_TARGET = re.compile(r"^[A-Za-z0-9_#:.+\-/]{1,255}$")
_SAFE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

JsonScalar = str | int | float | bool | None


class ActorKind(StrEnum):
    AGENT = "agent"
    OPERATOR = "operator"
    API_KEY = "api_key"
    SYSTEM = "system"
    CUSTOMER = "customer"


class InvalidEntry(ValueError):
    """An entry the trail refuses (bad action name, personal data in details); nothing is
    written."""


@dataclass(frozen=True)
class NewEntry:
    """What a caller says happened; the log adds seq, time and the links."""

    tenant_id: str
    actor_kind: ActorKind
    actor_id: str
    action: str
    target: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    workflow_id: str | None = None
    run_id: str | None = None
    request_id: str | None = None
    idempotency_key: str | None = None

    def checked(self) -> NewEntry:
        if not self.tenant_id or len(self.tenant_id) > 40:
            raise InvalidEntry("tenant_id must be 1 to 40 characters")
        ActorKind(self.actor_kind)  # a str that is not a kind raises ValueError
        if not self.actor_id or len(self.actor_id) > MAX_ACTOR_ID:
            raise InvalidEntry(f"actor_id must be 1 to {MAX_ACTOR_ID} characters")
        if len(self.action) > 64 or not ACTION.match(self.action):
            raise InvalidEntry(f"action {self.action!r} is not a dotted name like store.cancel")
        if self.target is not None and not _SAFE_TARGET.match(self.target):
            raise InvalidEntry(
                f"target must be an id (no spaces, no '@', 1 to {MAX_TARGET} characters)"
            )
        check_details(self.details)
        return self


def _check_scalar(key: str, value: object) -> None:
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidEntry(f"details.{key} must be a finite number")
        return
    if isinstance(value, str):
        if not _SAFE_TEXT.match(value):
            raise InvalidEntry(
                f"details.{key} must be an id or an amount (no spaces, no '@', at most 128 "
                "characters): the audit trail keeps no personal data"
            )
        return
    raise InvalidEntry(f"details.{key} must be a string, number, boolean or null")


def check_details(details: dict[str, Any]) -> None:
    """Flat: ids and amounts, or lists of them. Refuses anything that could carry free text."""
    if not isinstance(details, dict):
        raise InvalidEntry("details must be an object")
    if len(details) > MAX_DETAIL_KEYS:
        raise InvalidEntry(f"details may have at most {MAX_DETAIL_KEYS} keys")
    for key, value in details.items():
        if not isinstance(key, str) or not _SAFE_KEY.match(key):
            raise InvalidEntry(f"details key {key!r} must be a snake_case name")
        if isinstance(value, list):
            if len(value) > MAX_DETAIL_ITEMS:
                raise InvalidEntry(f"details.{key} may list at most {MAX_DETAIL_ITEMS} items")
            for item in value:
                _check_scalar(key, item)
        else:
            _check_scalar(key, value)


@dataclass(frozen=True)
class AuditEntry:
    """One entry as stored."""

    tenant_id: str
    seq: int
    at: datetime
    actor_kind: str
    actor_id: str
    action: str
    target: str | None
    details: dict[str, Any]
    workflow_id: str | None
    run_id: str | None
    request_id: str | None
    idempotency_key: str | None
    prev_hash: str
    hash: str

    def as_json(self) -> dict[str, Any]:
        """The entry as exported (JSON lines) and served by the API."""
        return {
            "tenant_id": self.tenant_id,
            "seq": self.seq,
            "at": timestamp(self.at),
            "actor_kind": self.actor_kind,
            "actor_id": self.actor_id,
            "action": self.action,
            "target": self.target,
            "details": self.details,
            "workflow_id": self.workflow_id,
            "run_id": self.run_id,
            "request_id": self.request_id,
            "idempotency_key": self.idempotency_key,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def utc(at: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def timestamp(at: datetime) -> str:
    """One spelling per instant (UTC, microseconds), whatever the database returned."""
    return utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    *,
    tenant_id: str,
    seq: int,
    at: datetime,
    actor_kind: str,
    actor_id: str,
    action: str,
    target: str | None,
    details: dict[str, Any],
    workflow_id: str | None,
    run_id: str | None,
    request_id: str | None,
    idempotency_key: str | None,
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        {
            "tenant_id": tenant_id,
            "seq": seq,
            "at": timestamp(at),
            "actor_kind": actor_kind,
            "actor_id": actor_id,
            "action": action,
            "target": target,
            "details": details,
            "workflow_id": workflow_id,
            "run_id": run_id,
            "request_id": request_id,
            "idempotency_key": idempotency_key,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
