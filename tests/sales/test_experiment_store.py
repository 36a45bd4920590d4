"""Experiments in a real app database (SQLite; Postgres too when configured): one running
experiment per tenant and behaviour, edits while running that keep what was recorded,
results counted from rows in ``sales_touches`` and ``sales_conversions`` as the sales agent
writes them, and migration 0013 matching the models."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.db.models import (
    Base,
    ExperimentRow,
    ExperimentVersionRow,
    SalesConversion,
    SalesTouch,
)
from supportflow.sales.experiment_store import (
    AlreadyRunning,
    ExperimentNotFound,
    ExperimentStore,
    VersionConflict,
    experiment_results,
    running_experiment,
)
from supportflow.sales.experiments import (
    EditRefused,
    Experiment,
    InvalidExperiment,
    assign,
    started,
)
from supportflow.sales.stats import newcombe_difference, relative_uplift, wilson
from supportflow.tenants.service import create_tenant

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ARMS: list[dict[str, Any]] = [
    {"name": "holdout", "weight": 50, "params": {"send": False}},
    {"name": "ten-off", "weight": 50, "params": {"offer": "discount", "discount_percent": 10}},
]


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture
def tenants(sessions: sessionmaker[Session]) -> tuple[str, str]:
    return create_tenant(sessions, "Shop A").tenant_id, create_tenant(sessions, "Shop B").tenant_id


def _touch(
    sessions: sessionmaker[Session],
    tenant_id: str,
    touch_id: str,
    *,
    experiment_id: str | None,
    arm: str | None,
    status: str = "sent",
    customer: str = "c",
    minutes: int = 0,
) -> None:
    """A touch as the sales activity records it."""
    with sessions.begin() as s:
        s.add(
            SalesTouch(
                touch_id=touch_id,
                tenant_id=tenant_id,
                store_user_id=customer,
                kind="abandoned_checkout",
                subject_id=f"chk-{touch_id}",
                experiment_id=experiment_id,
                arm=arm,
                status=status,
                workflow_id=f"sales-{touch_id}",
                at=T0 + timedelta(minutes=minutes),
            )
        )


def _order(
    sessions: sessionmaker[Session], tenant_id: str, touch_id: str, order_id: str, amount: str
) -> None:
    with sessions.begin() as s:
        s.add(
            SalesConversion(
                tenant_id=tenant_id,
                order_id=order_id,
                touch_id=touch_id,
                amount=Decimal(amount),
                placed_at=T0 + timedelta(hours=5),
            )
        )


def test_one_running_experiment_per_tenant_and_behaviour(
    sessions: sessionmaker[Session], tenants: tuple[str, str]
) -> None:
    shop, other = tenants
    store = ExperimentStore(sessions)
    first = store.create(shop, "First", "abandoned_checkout", ARMS)
    second = store.create(shop, "Second", "abandoned_checkout", ARMS)
    retention = store.create(
        shop,
        "Save",
        "retention",
        [
            {"name": "plain", "weight": 1},
            {"name": "swap", "weight": 1, "params": {"offer": "exchange"}},
        ],
    )
    elsewhere = store.create(other, "Theirs", "abandoned_checkout", ARMS)
    assert running_experiment(sessions, shop, "abandoned_checkout") is None

    store.start(shop, first.experiment_id)
    with pytest.raises(AlreadyRunning, match=first.experiment_id) as refused:
        store.start(shop, second.experiment_id)
    assert refused.value.running_id == first.experiment_id
    assert store.get(shop, second.experiment_id).status == "draft"  # nothing changed
    # Another behaviour, and another tenant's same behaviour, run alongside.
    assert store.start(shop, retention.experiment_id).status == "running"
    assert store.start(other, elsewhere.experiment_id).status == "running"
    found = running_experiment(sessions, shop, "abandoned_checkout")
    assert found is not None and found.experiment_id == first.experiment_id

    store.stop(shop, first.experiment_id)
    assert store.start(shop, second.experiment_id).status == "running"
    found = running_experiment(sessions, shop, "abandoned_checkout")
    assert found is not None and found.experiment_id == second.experiment_id
    with pytest.raises(EditRefused, match="only a draft can start"):
        store.start(shop, first.experiment_id)
    assert [e.name for e in store.of_tenant(shop)] == ["Save", "Second", "First"]


def test_the_database_itself_refuses_a_second_running_key(
    sessions: sessionmaker[Session], tenants: tuple[str, str]
) -> None:
    """The check a racing second start meets when both read "none running"."""
    shop, _ = tenants
    store = ExperimentStore(sessions)
    first = store.start(shop, store.create(shop, "A", "post_purchase", ARMS).experiment_id)
    second = store.create(shop, "B", "post_purchase", ARMS)
    with pytest.raises(IntegrityError), sessions.begin() as s:
        row = s.get(ExperimentRow, second.experiment_id)
        assert row is not None
        row.running_key = f"{shop}:post_purchase"
    assert first.status == "running"


def test_another_tenants_experiment_is_not_found(
    sessions: sessionmaker[Session], tenants: tuple[str, str]
) -> None:
    shop, other = tenants
    store = ExperimentStore(sessions)
    mine = store.create(shop, "Mine", "abandoned_checkout", ARMS)
    for call in (
        lambda: store.get(other, mine.experiment_id),
        lambda: store.edit(other, mine.experiment_id, {"name": "stolen"}),
        lambda: store.start(other, mine.experiment_id),
        lambda: store.stop(other, mine.experiment_id),
        lambda: experiment_results(sessions, other, mine.experiment_id),
    ):
        with pytest.raises(ExperimentNotFound):
            call()
    assert store.of_tenant(other) == []
    assert store.get(shop, mine.experiment_id) == mine


def _run_sales_agent(
    sessions: sessionmaker[Session], tenant_id: str, customers: range, prefix: str
) -> dict[str, tuple[str, int]]:
    """What the sales activity does per opportunity: find the running experiment, assign the
    customer, record the arm (and, in its history, the version)."""
    recorded: dict[str, tuple[str, int]] = {}
    for i in customers:
        experiment = running_experiment(sessions, tenant_id, "abandoned_checkout")
        assert experiment is not None
        customer = f"cust-{i}"
        arm = assign(experiment, customer)
        touch_id = f"{prefix}-{i}"
        status = "control" if not arm.params.send else "sent"
        _touch(
            sessions,
            tenant_id,
            touch_id,
            experiment_id=experiment.experiment_id,
            arm=arm.name,
            status=status,
            customer=customer,
            minutes=i,
        )
        recorded[customer] = (arm.name, experiment.version)
    return recorded


def test_an_experiment_edited_while_running_keeps_its_assignments(
    sessions: sessionmaker[Session], tenants: tuple[str, str]
) -> None:
    shop, _ = tenants
    store = ExperimentStore(sessions)
    made = store.create(shop, "Ten off", "abandoned_checkout", ARMS)
    store.start(shop, made.experiment_id)
    before = _run_sales_agent(sessions, shop, range(0, 120), "t1")
    assert {v for _, v in before.values()} == {1}

    # Weights and arms cannot move while it runs: refused, nothing changed.
    reweighted = [{**ARMS[0], "weight": 10}, ARMS[1]]
    with pytest.raises(EditRefused, match="stop it and create a new experiment"):
        store.edit(shop, made.experiment_id, {"arms": reweighted})
    with pytest.raises(EditRefused, match="behaviour"):
        store.edit(shop, made.experiment_id, {"behaviour": "post_purchase"})
    assert store.get(shop, made.experiment_id).version == 1

    # A new discount for the treatment arm: version 2, the same split.
    fifteen = [ARMS[0], {**ARMS[1], "params": {"offer": "discount", "discount_percent": 15}}]
    after, changed = store.edit(shop, made.experiment_id, {"arms": fifteen}, expected_version=1)
    assert after.version == 2 and changed == ["params:ten-off"]
    with pytest.raises(VersionConflict, match="version 2, not 1"):
        store.edit(shop, made.experiment_id, {"name": "late"}, expected_version=1)

    # The same customers come back (new opportunities) and new ones arrive.
    again = _run_sales_agent(sessions, shop, range(0, 200), "t2")
    for customer, (arm, _) in before.items():
        assert again[customer][0] == arm  # nobody moved
    assert {v for _, v in again.values()} == {2}

    # Results group by what was recorded, not by assigning again.
    with sessions.begin() as s:
        row = s.scalar(select(SalesTouch).where(SalesTouch.touch_id == "t1-0"))
        assert row is not None and row.arm is not None
        recorded_arm = row.arm
        row.arm = "holdout" if recorded_arm == "ten-off" else "ten-off"  # a record says so
    results = experiment_results(sessions, shop, made.experiment_id)
    by_arm = {a.arm: a.exposures for a in results.arms}
    expected = {"holdout": 0, "ten-off": 0}
    for arm, _ in list(before.values()) + list(again.values()):
        expected[arm] += 1
    expected[recorded_arm] -= 1
    expected["holdout" if recorded_arm == "ten-off" else "ten-off"] += 1
    assert by_arm == expected
    assert results.version == 2
    assert any(
        "'ten-off' changed its parameters while running (version 2)" in n for n in results.notes
    )
    assert any(n.startswith("interim") for n in results.notes)
    with sessions() as s:
        versions = s.scalars(
            select(ExperimentVersionRow.version).where(
                ExperimentVersionRow.experiment_id == made.experiment_id
            )
        ).all()
    assert sorted(versions) == [1, 2]


def test_results_from_recorded_touches_and_conversions(
    sessions: sessionmaker[Session], tenants: tuple[str, str]
) -> None:
    shop, other = tenants
    store = ExperimentStore(sessions)
    made = store.create(shop, "Ten off", "abandoned_checkout", ARMS)
    store.start(shop, made.experiment_id)
    exp = made.experiment_id
    statuses = ["control"] * 150 + ["suppressed:no_consent"] * 50
    for i, status in enumerate(statuses):
        _touch(sessions, shop, f"h-{i}", experiment_id=exp, arm="holdout", status=status)
    for i in range(180):
        status = "sent" if i < 160 else "suppressed:opted_out"
        _touch(sessions, shop, f"d-{i}", experiment_id=exp, arm="ten-off", status=status)
    for i in range(20):  # 20 holdout touches convert, at 30.00 each
        _order(sessions, shop, f"h-{i}", f"#H{i}", "30.00")
    for i in range(36):  # 36 discount touches convert, at 25.50 each
        _order(sessions, shop, f"d-{i}", f"#D{i}", "25.50")
    # A second order on a converted touch: one conversion, both orders' revenue.
    _order(sessions, shop, "d-0", "#D-extra", "10.00")
    # Not this experiment's: no experiment, another experiment, another tenant.
    _touch(sessions, shop, "plain", experiment_id=None, arm=None)
    _order(sessions, shop, "plain", "#P", "99.00")
    _touch(sessions, shop, "old", experiment_id="exp_ffffffffffffffff", arm="ten-off")
    _touch(sessions, other, "theirs", experiment_id=exp, arm="ten-off")
    _order(sessions, other, "theirs", "#T", "99.00")
    # A touch naming an arm the experiment lacks is shown apart, never compared.
    _touch(sessions, shop, "odd", experiment_id=exp, arm="legacy")

    results = experiment_results(sessions, shop, exp)
    holdout, discount = results.arms
    assert (holdout.arm, holdout.exposures, holdout.conversions) == ("holdout", 200, 20)
    assert (discount.arm, discount.exposures, discount.conversions) == ("ten-off", 180, 36)
    assert holdout.revenue == Decimal("600.00")
    assert holdout.revenue_per_exposure == Decimal("3.00")
    assert discount.revenue == Decimal("928.00")  # 36 x 25.50 + 10.00
    assert discount.revenue_per_exposure == Decimal("5.16")  # 928 / 180 = 5.155...
    assert results.unknown_arms == {"legacy": 1}
    assert results.model == (
        "intention-to-treat, Wilson 95% per arm, Newcombe hybrid score 95% for differences"
    )
    rate = wilson(36, 180)
    assert discount.rate == pytest.approx(0.2)
    assert discount.rate_interval == pytest.approx((rate.interval.low, rate.interval.high))
    (comparison,) = results.comparisons
    diff = newcombe_difference(36, 180, 20, 200)
    uplift = relative_uplift(36, 180, 20, 200)
    assert diff is not None and uplift is not None
    assert comparison.versus == "holdout" and comparison.difference == pytest.approx(0.1)
    assert comparison.difference_interval == pytest.approx((diff.interval.low, diff.interval.high))
    assert comparison.relative_uplift == pytest.approx(1.0)
    assert comparison.relative_uplift_interval == pytest.approx(
        (uplift.interval.low, uplift.interval.high)
    )
    # The interval is wide and honest: it clears zero here, but not by much.
    assert comparison.difference_interval is not None
    assert 0 < comparison.difference_interval[0] < 0.05


def test_results_before_any_exposure_or_conversion(
    sessions: sessionmaker[Session], tenants: tuple[str, str]
) -> None:
    shop, _ = tenants
    store = ExperimentStore(sessions)
    made = store.create(shop, "New", "abandoned_checkout", ARMS)
    empty = experiment_results(sessions, shop, made.experiment_id)
    assert [a.exposures for a in empty.arms] == [0, 0]
    assert empty.arms[0].rate is None and empty.arms[0].rate_interval == (0.0, 1.0)
    assert empty.comparisons[0].difference is None
    assert empty.comparisons[0].difference_interval is None
    assert "not estimable" in (empty.comparisons[0].note or "")
    assert "not started" in empty.notes[0]
    # Exposures but no conversion in the control: a difference, but no relative uplift.
    for i in range(10):
        _touch(sessions, shop, f"a-{i}", experiment_id=made.experiment_id, arm="holdout")
        _touch(sessions, shop, f"b-{i}", experiment_id=made.experiment_id, arm="ten-off")
    _order(sessions, shop, "b-0", "#1", "12.00")
    some = experiment_results(sessions, shop, made.experiment_id)
    (c,) = some.comparisons
    assert c.difference == pytest.approx(0.1) and c.difference_interval is not None
    assert c.relative_uplift is None and c.relative_uplift_interval is None
    assert "control has no conversions" in (c.note or "")


def test_a_stale_write_loses(sessions: sessionmaker[Session], tenants: tuple[str, str]) -> None:
    """Two edits read the same version; the second to write is refused, not merged."""
    shop, _ = tenants
    store = ExperimentStore(sessions)
    made = store.create(shop, "Race", "abandoned_checkout", ARMS)
    store.edit(shop, made.experiment_id, {"name": "First writer"})
    stale: Experiment = made  # what the second writer read
    with pytest.raises(VersionConflict), sessions.begin() as s:
        store._write(s, stale, started(stale))
    assert store.get(shop, made.experiment_id).status == "draft"


def test_migration_0013_matches_the_models(database_url: str) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata

    from supportflow.db.migrate import alembic_config

    # Up to 0013 only: this checks this migration, whatever later ones do.
    upgrade(database_url, "0013")
    engine = create_engine(database_url)
    mine = {"experiments", "experiment_versions"}
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)

        def table_of(diff: Any) -> str | None:
            item = diff[0] if isinstance(diff, list) else diff
            for part in item[1:]:
                name = getattr(part, "name", None)
                table = getattr(part, "table", None)
                if table is not None and getattr(table, "name", None) in mine:
                    return str(table.name)
                if name in mine:
                    return str(name)
            if len(item) > 2 and item[2] in mine:
                return str(item[2])
            return None

        assert [d for d in diffs if table_of(d)] == []
        command.downgrade(alembic_config(database_url), "0012")
        assert not mine & set(inspect(engine).get_table_names())
        upgrade(database_url, "0013")
        assert mine <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_bad_change_is_invalid_and_changes_nothing(
    sessions: sessionmaker[Session], tenants: tuple[str, str]
) -> None:
    shop, _ = tenants
    store = ExperimentStore(sessions)
    made = store.create(shop, "Draft", "abandoned_checkout", ARMS)
    for change, says in (
        ({"arms": "all of them"}, "invalid change: arms"),
        ({"weight": 5}, "invalid change: weight"),
        ({"name": "   "}, "invalid experiment: name: the name must not be blank"),
    ):
        with pytest.raises(InvalidExperiment, match=says):
            store.edit(shop, made.experiment_id, change)
    assert store.get(shop, made.experiment_id) == made
    assert len(store.versions(shop, made.experiment_id)) == 1
