"""The store writes agents make: the one declaration every other spelling derives from.

``StoreAction`` names each write. Its values are wire names that must never change: they are
the Temporal activity names (recorded histories), the ``action`` of ``ActionStep``,
``ActionPlan`` and ``ApprovalRequest`` (workflow state), the ``action`` of ``ActionDone`` (the
audit trail) and the keys of stored tenant policies. ``PolicyAction`` is the part a policy
rule governs: a plan as a whole is one of these; hold, release and refund are only ever steps
inside the cancel plan. ``ACTIONS`` gives each write's spec: the port capability a backend
needs for it, whether a policy governs it, its activity and audit names.

The activity that performs each write is bound in ``activities.actions.write_activity``: it
needs Temporal, and this module is read by pure code (procedures, policy). Both bindings are
``match`` statements ending in ``assert_never``, so mypy names every place a new member still
lacks. Adding a write: a member here (and in ``PolicyAction`` if a rule governs it) and its
case in ``_declare``; a ``Capability`` and a ``StorePort`` method (``store/port.py``) with each
adapter's; the input model (``activities/contract.py``) and the activity with its case in
``write_activity`` (``activities/actions.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal, assert_never, get_args

from supportflow.store.port import Capability


class StoreAction(StrEnum):
    """Every write to a tenant's store, in the order of the cancel saga, then the others."""

    HOLD_ORDER = "hold_order"
    RELEASE_ORDER = "release_order"
    REFUND_ORDER = "refund_order"
    CANCEL_ORDER = "cancel_order"
    MODIFY_ORDER_ADDRESS = "modify_order_address"
    MODIFY_ORDER_PAYMENT = "modify_order_payment"
    MODIFY_ORDER_ITEMS = "modify_order_items"
    RETURN_ORDER_ITEMS = "return_order_items"
    EXCHANGE_ORDER_ITEMS = "exchange_order_items"
    MODIFY_USER_ADDRESS = "modify_user_address"

    def __repr__(self) -> str:
        # The string it is on the wire: a bad action in a tenant's policy file is reported as
        # "Input should be 'cancel_order' or ...", as it was when these were Literal strings.
        return repr(self.value)


# The writes a policy rule governs (``TenantPolicy``, ``ActionPlan.action``): a Literal of the
# members, so mypy knows each is also a ``StoreAction``.
PolicyAction = Literal[
    StoreAction.CANCEL_ORDER,
    StoreAction.MODIFY_ORDER_ADDRESS,
    StoreAction.MODIFY_ORDER_PAYMENT,
    StoreAction.MODIFY_ORDER_ITEMS,
    StoreAction.RETURN_ORDER_ITEMS,
    StoreAction.EXCHANGE_ORDER_ITEMS,
    StoreAction.MODIFY_USER_ADDRESS,
]
POLICY_ACTIONS: frozenset[PolicyAction] = frozenset(get_args(PolicyAction))


@dataclass(frozen=True)
class ActionSpec:
    """What the rest of the code knows about one store write."""

    action: StoreAction
    # What the tenant's backend must list in ``StorePort.capabilities`` for this write.
    capability: Capability

    @property
    def governed(self) -> bool:
        """Whether a policy rule names this write (it is a ``PolicyAction``)."""
        return self.action in POLICY_ACTIONS

    @property
    def activity_name(self) -> str:
        """The Temporal activity that performs it (recorded in every history)."""
        return self.action.value

    @property
    def audit_name(self) -> str:
        """What ``ActionDone.action`` records once the write applied."""
        return self.action.value


def _declare(action: StoreAction) -> ActionSpec:
    match action:
        case StoreAction.HOLD_ORDER:
            return ActionSpec(action, Capability.HOLD_ORDER)
        case StoreAction.RELEASE_ORDER:
            return ActionSpec(action, Capability.RELEASE_ORDER)
        case StoreAction.REFUND_ORDER:
            return ActionSpec(action, Capability.REFUND_ORDER)
        case StoreAction.CANCEL_ORDER:
            return ActionSpec(action, Capability.CANCEL_ORDER)
        case StoreAction.MODIFY_ORDER_ADDRESS:
            return ActionSpec(action, Capability.MODIFY_ORDER_ADDRESS)
        case StoreAction.MODIFY_ORDER_PAYMENT:
            return ActionSpec(action, Capability.MODIFY_ORDER_PAYMENT)
        case StoreAction.MODIFY_ORDER_ITEMS:
            return ActionSpec(action, Capability.MODIFY_ORDER_ITEMS)
        case StoreAction.RETURN_ORDER_ITEMS:
            return ActionSpec(action, Capability.RETURN_ORDER_ITEMS)
        case StoreAction.EXCHANGE_ORDER_ITEMS:
            return ActionSpec(action, Capability.EXCHANGE_ORDER_ITEMS)
        case StoreAction.MODIFY_USER_ADDRESS:
            return ActionSpec(action, Capability.MODIFY_USER_ADDRESS)
        case _:
            assert_never(action)


ACTIONS: Mapping[StoreAction, ActionSpec] = MappingProxyType({a: _declare(a) for a in StoreAction})
