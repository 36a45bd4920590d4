"""The audit entry of an agent's store write (issue 12 item 6), appended once the store has
confirmed it.

The entry is keyed by the write's own idempotency key: a retried activity (the store
replaying the write by that key) finds the entry its first attempt appended and adds none.
Should the append itself fail, the activity fails and Temporal retries it; the store replays
the write, and the entry is appended then: a write the agent reports done is in the trail.

Details keep ids and amounts only: never an address, a reason typed by the customer, or the
customer's name.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from supportflow.activities.contract import ActionDone, ActionInput, OrderActionInput
from supportflow.audit.entry import ActorKind, InvalidEntry, NewEntry, check_details
from supportflow.audit.log import append
from supportflow.store.actions import StoreAction

# The fields of a write's input that are ids or amounts, in whichever inputs have them.
_DETAIL_FIELDS = ("amount", "payment_method_id", "item_ids", "new_item_ids")


def store_write_entry(action: StoreAction, inp: ActionInput, done: ActionDone) -> NewEntry:
    info = activity.info()
    details: dict[str, Any] = {
        name: getattr(inp, name) for name in _DETAIL_FIELDS if getattr(inp, name, None) is not None
    }
    if done.status is not None:
        details["status"] = done.status
    return NewEntry(
        tenant_id=inp.tenant_id,
        actor_kind=ActorKind.AGENT,
        actor_id=info.workflow_id or "unknown",
        action=f"store.{action.value}",
        target=inp.order_id if isinstance(inp, OrderActionInput) else done.entity_id,
        details={k: v for k, v in details.items() if _fits(k, v)},
        workflow_id=info.workflow_id,
        run_id=info.workflow_run_id,
        idempotency_key=inp.idempotency_key,
    )


def _fits(key: str, value: Any) -> bool:
    # A backend's id in an unexpected shape is left out: the write is done, and failing its
    # activity over a detail would retry it for nothing.
    try:
        check_details({key: value})
    except InvalidEntry:
        return False
    return True


async def audit_store_write(
    sessions: sessionmaker[Session] | None,
    action: StoreAction,
    inp: ActionInput,
    done: ActionDone,
) -> None:
    """Append the write's entry, off the event loop (the database calls block)."""
    if sessions is None:  # tools and tests that run the activities without an app database
        return
    await asyncio.to_thread(append, sessions, store_write_entry(action, inp, done))
