"""Which conversation an email or SMS customer's messages went into.

A chat answer names the customer; an email or SMS answer does not (it is a mail or a text).
The simulator still needs the conversation: its transcript tells whether a case was
escalated or closed by its timeout, and its workflow's history what it cost. Each message is
in its conversation's transcript under an id derived from the provider's id
(``channels/ingest``: "email:" / "sms:" + ``opaque_id(Message-ID or MessageSid)``), so the
conversation is found by reading the transcripts (merchant API) of the tenant's customer
workflows that started since the simulated customer did (a new sender's first message
starts one); failing that, of every running one. Transcripts read are remembered by their
customer messages' ids, and conversations the runner already knows are not read again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
from temporalio.client import Client

from supportflow.channels.ingest import opaque_id

# The customer's workflow may start a little before the client's clock says it sent.
START_SLACK_S = 5.0


def transcript_ids(channel: str, provider_id: str) -> list[str]:
    """The ids a message may have in its transcript (Message-IDs with and without <>)."""
    bare = provider_id.strip().strip("<>")
    forms = [provider_id.strip(), bare, f"<{bare}>"]
    return list(dict.fromkeys(f"{channel}:{opaque_id(f)}" for f in forms))


class Locator:
    def __init__(
        self, temporal: Client, api: httpx.AsyncClient, api_key: str, tenant_id: str
    ) -> None:
        self._temporal = temporal
        self._api = api
        self._headers = {"X-Api-Key": api_key}
        self._prefix = f"sf/{tenant_id}/customer/"
        self._owner: dict[str, str] = {}  # transcript message id -> customer id
        self._known: set[str] = set()  # customers the runner knows (chat answers name them)
        self._lock = asyncio.Lock()

    def known(self, customer_id: str) -> None:
        """A conversation the runner knows already: not searched."""
        self._known.add(customer_id)

    async def find(self, message_ids: Sequence[str], since: float) -> str | None:
        """The customer whose transcript holds the latest of ``message_ids`` (transcript ids,
        oldest first), searching conversations started since ``since`` (epoch seconds), then
        every running one. None if none holds any."""
        async with self._lock:
            if (hit := self._hit(message_ids)) is not None:
                return hit
            started = datetime.fromtimestamp(since - START_SLACK_S, UTC).isoformat()
            read = await self._read(
                f"WorkflowType = 'CustomerWorkflow' AND StartTime >= '{started}'", set()
            )
            if (hit := self._hit(message_ids)) is not None:
                return hit
            await self._read(
                "WorkflowType = 'CustomerWorkflow' AND ExecutionStatus = 'Running'", read
            )
            return self._hit(message_ids)

    def _hit(self, message_ids: Sequence[str]) -> str | None:
        return next((self._owner[m] for m in reversed(message_ids) if m in self._owner), None)

    async def _read(self, query: str, skip: set[str]) -> set[str]:
        """Read the transcripts of the matching workflows; the customers read."""
        customers: list[str] = []
        async for wf in self._temporal.list_workflows(query):
            if not wf.id.startswith(self._prefix):
                continue  # another tenant's
            customer_id = wf.id[len(self._prefix) :]
            if customer_id in self._known or customer_id in skip or customer_id in customers:
                continue
            customers.append(customer_id)
        for customer_id in customers:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                r = await self._api.get(
                    f"/v1/customers/{quote(customer_id)}/transcript", headers=self._headers
                )
                if r.status_code == 200:
                    for entry in r.json().get("entries", []):
                        if entry.get("role") == "customer":
                            self._owner[str(entry.get("message_id"))] = customer_id
        return set(customers)
