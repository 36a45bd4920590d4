"""A retention experiment through the real CustomerWorkflow (sales-agent-v1), on real Temporal
servers (dev and time-skipping), a demo store of the test's own and the app database: the
customer's arm is assigned and recorded when the offer would be made; the offer made is the
arm's (another percent than the tenant's own, or none at all); the cancel case's end is
recorded for the arm, and the experiment's results count saves per arm."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.models import SalesTouch
from supportflow.management.report import arms as arm_figures
from supportflow.sales.experiment_store import ExperimentStore, experiment_results
from supportflow.sales.experiments import Experiment, assign
from supportflow.settings import Settings
from tests.conftest import _run_store
from tests.helpers import running_workers, store_order
from tests.test_procedures_workflow import Chat, tenant_with_policy
from tests.test_retention_workflow import retention, rows

# Pending seed orders, on a store of the test's own: (store customer, email, order).
CANDIDATES = [
    ("sofia_rossi_8776", "sofia.rossi2645@example.com", "#W5918442"),
    ("fatima_anderson_2157", "fatima.anderson1447@example.com", "#W2974929"),
    ("mei_ahmed_5058", "mei.ahmed5231@example.com", "#W2631563"),
    ("sofia_thomas_1518", "sofia.thomas3069@example.com", "#W7619352"),
    ("fatima_muller_6713", "fatima.muller6448@example.com", "#W9962383"),
    ("evelyn_kovacs_6742", "evelyn.kovacs5369@example.com", "#W5694685"),
    ("aarav_brown_3744", "aarav.brown3708@example.com", "#W5065081"),
    ("aarav_lee_1982", "aarav.lee6460@example.com", "#W3361211"),
    ("yusuf_rossi_9620", "yusuf.rossi7301@example.com", "#W6247578"),
    ("ethan_smith_9087", "ethan.smith2338@example.com", "#W6711349"),
    ("lei_patel_5376", "lei.patel3765@example.com", "#W4172216"),
    ("lei_ahmed_1705", "lei.ahmed1696@example.com", "#W9132840"),
]


@pytest.fixture
def own_store(tmp_path: Path) -> Iterator[str]:
    yield from _run_store(tmp_path / "retention-experiment-store.db")


def running_retention_experiment(settings: Settings, tenant_id: str) -> Experiment:
    engine = make_engine(settings.resolved_database_url)
    try:
        store = ExperimentStore(make_session_factory(engine))
        made = store.create(
            tenant_id,
            "keep offers",
            "retention",
            [
                {"name": "none", "weight": 1, "params": {"offer": "none"}},
                {
                    "name": "twenty",
                    "weight": 1,
                    "params": {"offer": "discount", "discount_percent": 20},
                },
            ],
        )
        return store.start(tenant_id, made.experiment_id)
    finally:
        engine.dispose()


def one_in_each_arm(experiment: Experiment) -> dict[str, tuple[str, str, str]]:
    """A candidate in each arm (the salt is random: twelve candidates leave one arm empty
    once in 2,048 runs)."""
    found: dict[str, tuple[str, str, str]] = {}
    for c in CANDIDATES:
        found.setdefault(assign(experiment, c[0]).name, c)
    assert set(found) == {"none", "twenty"}, "all twelve candidates fell in one arm"
    return found


async def test_each_arm_makes_its_own_offer_and_its_saves_are_counted(
    workflow_env: WorkflowEnvironment, settings: Settings, own_store: str
) -> None:
    settings = settings.model_copy(update={"store_url": own_store})
    # The tenant's own offer is 10% off; the experiment's arms are none and 20% off.
    tenant_id = tenant_with_policy(settings, "Experimenting Shop", retention())
    experiment = running_retention_experiment(settings, tenant_id)
    arms = one_in_each_arm(experiment)
    async with running_workers(workflow_env.client, settings):
        # The control arm: no offer at all, straight to the usual confirmation; cancelled.
        _, email, order_id = arms["none"]
        chat = Chat(workflow_env, settings, tenant_id)
        assert "why" in (await chat.say(f"please cancel my order {order_id}", email=email))
        asked = await chat.say("i dont need it anymore")
        assert "Before I cancel" not in asked and "% off" not in asked
        assert f"cancel order {order_id}" in asked and "yes" in asked.lower()
        await chat.say("yes")
        assert (await store_order(settings, order_id))["status"] == "cancelled"
        # The 20% arm: the arm's offer, not the tenant's 10%; taken, the order is kept.
        _, email, order_id = arms["twenty"]
        chat = Chat(workflow_env, settings, tenant_id)
        await chat.say(f"I want to cancel order {order_id}", email=email)
        offer = await chat.say("I no longer need it")
        assert f"Before I cancel order {order_id}" in offer and "20% off" in offer, offer
        kept = await chat.say("ok yes I'll keep it")
        assert "stays as it is" in kept
        assert (await store_order(settings, order_id))["status"] == "pending"
    touches = {t.arm: t for t in rows(settings, SalesTouch, tenant_id)}
    assert {a: (t.kind, t.status, t.subject_id) for a, t in touches.items()} == {
        "none": ("retention", "cancelled", arms["none"][2]),
        "twenty": ("retention", "saved", arms["twenty"][2]),
    }
    assert {t.experiment_id for t in touches.values()} == {experiment.experiment_id}
    engine = make_engine(settings.resolved_database_url)
    try:
        sessions = make_session_factory(engine)
        results = experiment_results(sessions, tenant_id, experiment.experiment_id)
        # The console's Metrics page counts the same saves per arm.
        hour, now = timedelta(hours=1), datetime.now(UTC)
        figures = arm_figures(sessions, tenant_id, now - hour, now + hour)
    finally:
        engine.dispose()
    assert [(f.arm, f.touches, f.converted, f.outcome) for f in figures] == [
        ("none", 1, 0, "save"),
        ("twenty", 1, 1, "save"),
    ]
    assert results.outcome == "save"
    assert [(a.arm, a.exposures, a.conversions) for a in results.arms] == [
        ("none", 1, 0),
        ("twenty", 1, 1),
    ]
    assert results.comparisons[0].difference_interval is not None


async def test_with_no_experiment_running_the_tenants_offer_is_made_and_nothing_is_assigned(
    workflow_env: WorkflowEnvironment, settings: Settings, own_store: str
) -> None:
    settings = settings.model_copy(update={"store_url": own_store})
    tenant_id = tenant_with_policy(settings, "Plain Shop", retention())
    _, email, order_id = CANDIDATES[0]
    async with running_workers(workflow_env.client, settings):
        chat = Chat(workflow_env, settings, tenant_id)
        await chat.say(f"cancel {order_id} please", email=email)
        offer = await chat.say("dont need it any more")
        assert "10% off" in offer
        await chat.say("no, just cancel it")
        await chat.say("yes")
    assert [
        (t.kind, t.experiment_id, t.arm, t.status) for t in rows(settings, SalesTouch, tenant_id)
    ] == [("retention", None, None, "declined")]
