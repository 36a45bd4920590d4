"""A custom action: a merchant's own code (a loyalty-points lookup, a warranty check) that a
conversation calls as a Temporal activity served by the merchant's worker (the TypeScript SDK's
``createCustomActionWorker``), on a task queue the tenant names.

The activity is named ``custom_action.<action>`` (``activity_name``); it takes one
``CustomActionInput`` and returns one ``CustomActionResult``. A business answer ("no such
member") is a result with ``ok=False``; a failure to answer (the merchant's system is down) is
an activity error, which Temporal retries under the caller's retry policy. The same
``idempotency_key`` comes with every attempt, so an action with an effect applies it once.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Action names: lower-case words joined by "_", as the activity type's suffix.
ACTION_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
ACTIVITY_PREFIX = "custom_action."
# The tenant ids supportflow makes ("t_" + 16 hex) and the demo's; no ":" or whitespace.
TENANT_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


def activity_name(action: str) -> str:
    """The activity type that serves ``action``: ``custom_action.<action>``."""
    return ACTIVITY_PREFIX + action


class CustomActionInput(BaseModel):
    """What the workflow sends: the one argument of a ``custom_action.<action>`` activity."""

    model_config = ConfigDict(extra="forbid", title="CustomActionInput")

    # The tenant whose conversation calls; the worker refuses any other tenant's call.
    tenant_id: str = Field(pattern=TENANT_ID_PATTERN)
    # The action's name, the suffix of the activity type (the worker checks they agree).
    action: str = Field(pattern=ACTION_NAME_PATTERN)
    # The same on every attempt of one call: an action with an effect applies it once per key.
    idempotency_key: str = Field(min_length=1, max_length=200)
    # The store's own customer id when the customer is verified; absent otherwise.
    customer_id: str | None = Field(default=None, min_length=1, max_length=200)
    # The action's own arguments (JSON values); what they are is the action's business.
    args: dict[str, Any] = Field(default_factory=dict)


class CustomActionError(BaseModel):
    """Why an action could not give an answer: a short machine word and a sentence with no
    personal data (it is recorded in the audit trail)."""

    model_config = ConfigDict(extra="forbid", title="CustomActionError")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    message: str = Field(min_length=1, max_length=500)


class CustomActionResult(BaseModel):
    """What the action answers: ``ok`` with ``data`` (JSON values the agent may quote), or
    not ``ok`` with an ``error``."""

    model_config = ConfigDict(
        extra="forbid",
        title="CustomActionResult",
        # The validator below, for the schema's readers (the TypeScript worker checks it too).
        json_schema_extra={
            "if": {"properties": {"ok": {"const": True}}},
            "then": {"properties": {"error": {"type": "null"}}},
            "else": {"required": ["error"], "properties": {"error": {"type": "object"}}},
        },
    )

    ok: bool
    data: dict[str, Any] | None = None
    error: CustomActionError | None = None

    @model_validator(mode="after")
    def _error_iff_not_ok(self) -> Self:
        if self.ok and self.error is not None:
            raise ValueError("a result with ok=true has no error")
        if not self.ok and self.error is None:
            raise ValueError("a result with ok=false needs an error")
        return self
