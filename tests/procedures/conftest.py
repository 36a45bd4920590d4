"""Facts from the real tau2 seed, understandings as the engine would give them, and a check
that every reply a procedure chooses renders with the facts it gives."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from supportflow.demo_store.seeding import load_seed
from supportflow.policy.model import TenantPolicy
from supportflow.procedures.base import step
from supportflow.procedures.case import CaseState, StepResult
from supportflow.procedures.facts import CaseFacts, case_facts_from_store
from supportflow.replies.render import render
from supportflow.understanding.contract import Entities, ItemMatch, Understanding
from tests.conftest import _run_store

Doc = dict[str, Any]
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def seed() -> Doc:
    return load_seed()


def u(
    intent: str,
    *,
    order_ids: list[str] | None = None,
    reason: str | None = None,
    items: list[ItemMatch] | None = None,
    needs_human: bool = False,
    needs_clarification: bool = False,
) -> Understanding:
    return Understanding(
        intent=intent,
        confidence=0.9,
        needs_human=needs_human,
        needs_clarification=needs_clarification,
        entities=Entities(order_ids=order_ids or [], cancel_reason=reason, items=items or []),
    )


def match(seed: Doc, item_id: str) -> ItemMatch:
    for product in seed["products"].values():
        if item_id in product["variants"]:
            return ItemMatch(
                item_id=item_id, product_id=product["product_id"], name=product["name"], score=1
            )
    raise LookupError(item_id)


def facts_for(seed: Doc, order_id: str | None, user_id: str | None = None) -> CaseFacts:
    order = copy.deepcopy(seed["orders"][order_id]) if order_id in seed["orders"] else None
    uid = user_id or (order["user_id"] if order else None)
    user = copy.deepcopy(seed["users"][uid]) if uid else None
    products = (
        [seed["products"][i["product_id"]] for i in order["items"]] if order is not None else []
    )
    return case_facts_from_store(user, order, products, order_id_requested=order_id)


def find_order(seed: Doc, predicate: Callable[[Doc, Doc], bool], skip: int = 0) -> Doc:
    found = 0
    for order_id in sorted(seed["orders"]):
        order = seed["orders"][order_id]
        if predicate(order, seed["users"][order["user_id"]]):
            if found == skip:
                return copy.deepcopy(order)
            found += 1
    raise LookupError("no seed order matches")


def source_of(order: Doc, user: Doc) -> str:
    return str(user["payment_methods"][order["payment_history"][0]["payment_method_id"]]["source"])


def check_rendered(result: StepResult) -> str:
    """Every reply must render with exactly the facts given (StrictUndefined)."""
    assert result.template is not None, result
    return render(result.template, result.facts)


class Conversation:
    """Drives `step` turn by turn like the workflow would, keeping the case."""

    def __init__(self, seed: Doc, user_id: str, policy: TenantPolicy | None = None) -> None:
        self.seed = seed
        self.user_id = user_id
        self.policy = policy or TenantPolicy()
        self.case: CaseState | None = None
        self.cases = 0
        self.last_order_id: str | None = None

    def say(self, understanding: Understanding, text: str = "") -> StepResult:
        from supportflow.procedures.base import order_id_to_fetch

        oid = order_id_to_fetch(self.case, understanding, self.last_order_id)
        facts = facts_for(self.seed, oid, self.user_id)
        self.cases += 1
        result = step(
            self.case,
            understanding,
            facts,
            policy=self.policy,
            now=NOW,
            new_case_id=f"wf-1/case/{self.cases}",
            text=text,
        )
        if result.state is not None:
            self.case = result.state
            self.last_order_id = result.state.order_id or self.last_order_id
        if result.template is not None:
            check_rendered(result)
        return result


@pytest.fixture(scope="module")
def admin_store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real demo store with /admin (faults, events), private to this module."""
    db: Path = tmp_path_factory.mktemp("actions-store") / "store.db"
    yield from _run_store(db, admin=True)
