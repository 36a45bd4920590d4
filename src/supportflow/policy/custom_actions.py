"""The tenant policy's custom actions (issue 16): which of the merchant's own actions the
agents may call, on which task queue, and how patiently.

A custom action is served by the merchant's worker (the TypeScript SDK's
``createCustomActionWorker``) as activity ``custom_action.<name>``. The policy is the one place
that says it exists for supportflow: an action a knowledge article names but the policy does
not list is never called. Queues are the tenant's own: ``supportflow-actions.<tenant id>`` or a
name under it (``supportflow-actions.<tenant id>.<suffix>``), so no tenant's policy can send
its conversations' calls to another tenant's worker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from supportflow.contract.custom_actions import ACTION_NAME_PATTERN

QUEUE_PREFIX = "supportflow-actions."
_QUEUE_SUFFIX = re.compile(r"[A-Za-z0-9_-]{1,60}")
_ACTION_NAME = re.compile(ACTION_NAME_PATTERN)
# A call's whole patience (every attempt, and the wait for a worker to take it) is bounded as
# a store write's is: past it the customer hears an apology and a person takes over.
MAX_DEADLINE = timedelta(minutes=5)

CustomActionAgent = Literal["support", "sales", "management"]


def default_queue(tenant_id: str) -> str:
    """The task queue a tenant's custom actions are served on unless its policy names one."""
    return QUEUE_PREFIX + tenant_id


def queue_belongs_to(tenant_id: str, queue: str) -> bool:
    """Whether ``queue`` is one of ``tenant_id``'s: its default queue or one under it."""
    own = default_queue(tenant_id)
    if queue == own:
        return True
    suffix = queue.removeprefix(own + ".")
    return suffix != queue and _QUEUE_SUFFIX.fullmatch(suffix) is not None


class CustomActionRule(BaseModel):
    """One custom action the tenant's agents may call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # None: the tenant's default queue, ``supportflow-actions.<tenant id>``.
    task_queue: str | None = Field(default=None, min_length=1, max_length=200)
    # One attempt's limit (as a store write's); a failed attempt is retried with back-off.
    timeout: timedelta = timedelta(seconds=5)
    # Every attempt together, and the wait for a worker: then an apology and a person. The
    # default answers within the chat's reply wait (20 s), so the customer hears it there.
    deadline: timedelta = timedelta(seconds=15)
    # The action reads or changes one customer's data: called only for a verified customer,
    # with the store's customer id. False: it answers the same to anyone (a store-wide fact).
    needs_verified_customer: bool = True
    # The agents that may call it.
    agents: frozenset[CustomActionAgent] = frozenset({"support"})

    @model_validator(mode="after")
    def _coherent(self) -> CustomActionRule:
        if not timedelta(seconds=1) <= self.timeout <= timedelta(minutes=1):
            raise ValueError("timeout must be between 1 second and 1 minute")
        if not self.timeout <= self.deadline <= MAX_DEADLINE:
            raise ValueError(
                f"deadline ({self.deadline.total_seconds():g} s) must be at least timeout "
                f"({self.timeout.total_seconds():g} s) and at most 5 minutes"
            )
        return self

    def queue(self, tenant_id: str) -> str:
        return self.task_queue or default_queue(tenant_id)


def check_action_names(actions: dict[str, CustomActionRule]) -> None:
    for name in actions:
        if not _ACTION_NAME.fullmatch(name):
            raise ValueError(
                f"custom action {name!r}: names are lower-case words joined by '_' "
                "(a letter first, at most 63 characters)"
            )


def foreign_queues(tenant_id: str, actions: dict[str, CustomActionRule]) -> list[str]:
    """The actions whose queue is not the tenant's own (a policy naming one is refused)."""
    return sorted(
        name
        for name, rule in actions.items()
        if not queue_belongs_to(tenant_id, rule.queue(tenant_id))
    )


@dataclass(frozen=True)
class CustomActionRoute:
    """Where and how patiently one call of an allowed custom action is made."""

    task_queue: str
    timeout: timedelta
    deadline: timedelta
    needs_verified_customer: bool


# Why an action an article names is not called: the policy does not list it; it does, but not
# for this agent; it names a queue that is not the tenant's (a policy stored before the check,
# or written around it: refused here too).
Refusal = Literal["not_in_policy", "agent_not_allowed", "foreign_queue"]


def route(
    actions: Mapping[str, CustomActionRule],
    tenant_id: str,
    action: str,
    agent: CustomActionAgent = "support",
) -> CustomActionRoute | Refusal:
    """Where ``agent`` calls ``action`` for ``tenant_id``, or why it may not. Pure."""
    rule = actions.get(action)
    if rule is None:
        return "not_in_policy"
    if agent not in rule.agents:
        return "agent_not_allowed"
    queue = rule.queue(tenant_id)
    if not queue_belongs_to(tenant_id, queue):
        return "foreign_queue"
    return CustomActionRoute(
        task_queue=queue,
        timeout=rule.timeout,
        deadline=rule.deadline,
        needs_verified_customer=rule.needs_verified_customer,
    )
