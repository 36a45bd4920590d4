"""The merchant's side of custom actions as the TypeScript SDK's ``createCustomActionWorker``
serves it (the same activity names, the same non-retryable failure types), in Python: for the
workflow's tests and the history recordings. The TypeScript worker itself is tested against
the same workflow by the SDK's tests (sdk/typescript/test)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from supportflow.contract.custom_actions import CustomActionInput
from supportflow.policy.custom_actions import default_queue


class MerchantWorker:
    """The merchant's actions as the TypeScript worker serves them: ``loyalty_balance`` from a
    table, anything else refused as not served (non-retryable)."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.calls: list[CustomActionInput] = []
        # What loyalty_balance answers on each attempt in turn (then the last one again).
        self.answers: list[Callable[[CustomActionInput], Any]] = [
            lambda c: {"ok": True, "data": {"points": 4210, "tier": "gold"}}
        ]

    @activity.defn(name="custom_action.loyalty_balance")
    async def loyalty_balance(self, raw: dict[str, Any]) -> Any:
        call = CustomActionInput.model_validate(raw)
        self.calls.append(call)
        if call.tenant_id != self.tenant_id:
            raise ApplicationError(
                "another tenant", type="CustomActionTenantRefused", non_retryable=True
            )
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        return answer(call)

    @activity.defn(dynamic=True)
    async def not_served(self, _args: Sequence[RawValue]) -> None:
        raise ApplicationError(
            f"{activity.info().activity_type} is not served here (actions: loyalty_balance)",
            type="CustomActionNotRegistered",
            non_retryable=True,
        )

    @asynccontextmanager
    async def serving(
        self, client: Client, task_queue: str | None = None
    ) -> AsyncIterator[MerchantWorker]:
        worker = Worker(
            client,
            task_queue=task_queue or default_queue(self.tenant_id),
            activities=[self.loyalty_balance, self.not_served],
        )
        async with worker:
            yield self
