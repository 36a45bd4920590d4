"""/v1/experiments over real HTTP (the whole API on uvicorn, the app database on SQLite and
Postgres): create, list, show, edit, start, stop and results; another tenant's experiment is
a 404; bad input is a 4xx that changes nothing; every change is in the audit trail; results
carry every rate and difference with its interval and the model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from supportflow.audit.verify import verify
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.db.models import ExperimentRow, SalesConversion, SalesTouch
from supportflow.operators.accounts import create_operator
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import TEST_ENCRYPTION_KEYS, free_port, serve_api

MODEL = "intention-to-treat, Wilson 95% per arm, Newcombe hybrid score 95% for differences"
BODY: dict[str, Any] = {
    "name": "Reminder: 10% off or nothing",
    "behaviour": "abandoned_checkout",
    "arms": [
        {"name": "holdout", "weight": 50, "params": {"send": False}},
        {"name": "ten-off", "weight": 50, "params": {"offer": "discount", "discount_percent": 10}},
    ],
}


@dataclass
class Api:
    http: httpx.AsyncClient
    sessions: sessionmaker[Session]
    shop: CreatedTenant
    other: CreatedTenant

    @property
    def key(self) -> dict[str, str]:
        return {"X-Api-Key": self.shop.api_key}

    @property
    def other_key(self) -> dict[str, str]:
        return {"X-Api-Key": self.other.api_key}

    async def audit(self, key: dict[str, str] | None = None) -> list[dict[str, Any]]:
        r = await self.http.get("/v1/audit", params={"order": "asc"}, headers=key or self.key)
        assert r.status_code == 200, r.text
        entries: list[dict[str, Any]] = r.json()["entries"]
        return entries

    def experiments_in_db(self) -> int:
        with self.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(ExperimentRow)) or 0)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@pytest.fixture
async def api(
    database_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> AsyncIterator[Api]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        api_port=free_port(),
        encryption_keys=SecretStr(TEST_ENCRYPTION_KEYS),
        demo_store_tenants="*",
    )
    shop = create_tenant(sessions, "Experiment Shop")
    other = create_tenant(sessions, "Other Shop")
    # These routes never reach Temporal.
    async with serve_api(settings, cast(Client, object())) as http:
        yield Api(http, sessions, shop, other)


async def test_an_experiments_life_over_http_with_its_audit_trail(api: Api) -> None:
    made = await api.http.post("/v1/experiments", json=BODY, headers=api.key)
    assert made.status_code == 201, made.text
    exp = made.json()
    eid = exp["experiment_id"]
    assert made.headers["location"] == f"/v1/experiments/{eid}"
    assert exp["status"] == "draft" and exp["version"] == 1
    assert "salt" not in exp and exp["arms"][0]["params"]["send"] is False

    listed = await api.http.get("/v1/experiments", headers=api.key)
    assert [e["experiment_id"] for e in listed.json()["experiments"]] == [eid]
    shown = await api.http.get(f"/v1/experiments/{eid}", headers=api.key)
    assert shown.json() == exp

    started = await api.http.post(f"/v1/experiments/{eid}/start", headers=api.key)
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "running" and started.json()["started_at"]

    # While running: weights refused (409, nothing changed), params accepted (version 2).
    reweighted = {"arms": [{**BODY["arms"][0], "weight": 10}, BODY["arms"][1]]}
    r = await api.http.patch(f"/v1/experiments/{eid}", json=reweighted, headers=api.key)
    assert r.status_code == 409 and "stop it and create a new experiment" in r.json()["detail"]
    r = await api.http.patch(
        f"/v1/experiments/{eid}", json={"behaviour": "retention"}, headers=api.key
    )
    assert r.status_code == 409
    fifteen = {
        "version": 1,
        "arms": [
            BODY["arms"][0],
            {**BODY["arms"][1], "params": {"offer": "discount", "discount_percent": 15}},
        ],
    }
    r = await api.http.patch(f"/v1/experiments/{eid}", json=fifteen, headers=api.key)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["arms"][1]["params"]["discount_percent"] == 15
    # The same change again, made against version 1: a conflict, not a silent overwrite.
    r = await api.http.patch(f"/v1/experiments/{eid}", json=fifteen, headers=api.key)
    assert r.status_code == 409 and "version 2, not 1" in r.json()["detail"]
    # A change to nothing is not a version and not an audit entry.
    same = await api.http.patch(
        f"/v1/experiments/{eid}", json={"name": BODY["name"]}, headers=api.key
    )
    assert same.status_code == 200 and same.json()["version"] == 2

    # A second experiment on the same behaviour cannot start while this one runs.
    second = (await api.http.post("/v1/experiments", json=BODY, headers=api.key)).json()
    r = await api.http.post(f"/v1/experiments/{second['experiment_id']}/start", headers=api.key)
    assert r.status_code == 409 and eid in r.json()["detail"]

    stopped = await api.http.post(f"/v1/experiments/{eid}/stop", headers=api.key)
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    r = await api.http.post(f"/v1/experiments/{eid}/stop", headers=api.key)
    assert r.status_code == 409

    entries = [e for e in await api.audit() if e["action"].startswith("experiment.")]
    assert [(e["action"], e["target"]) for e in entries] == [
        ("experiment.create", eid),
        ("experiment.start", eid),
        ("experiment.update", eid),
        ("experiment.create", second["experiment_id"]),
        ("experiment.stop", eid),
    ]
    assert entries[0]["details"] == {
        "behaviour": "abandoned_checkout",
        "arms": 2,
        "version": 1,
    }
    assert entries[2]["details"] == {
        "version": 2,
        "changed": ["params:ten-off"],
        "status": "running",
    }
    assert all(e["actor_kind"] == "api_key" for e in entries)
    assert "Reminder" not in str(entries)  # ids, not the merchant's words
    assert verify(api.sessions, api.shop.tenant_id).ok


async def test_another_tenants_experiment_is_a_404_and_stays_unchanged(api: Api) -> None:
    eid = (await api.http.post("/v1/experiments", json=BODY, headers=api.key)).json()[
        "experiment_id"
    ]
    calls = [
        ("GET", f"/v1/experiments/{eid}", None),
        ("PATCH", f"/v1/experiments/{eid}", {"name": "mine now"}),
        ("POST", f"/v1/experiments/{eid}/start", None),
        ("POST", f"/v1/experiments/{eid}/stop", None),
        ("GET", f"/v1/experiments/{eid}/results", None),
    ]
    for method, url, body in calls:
        r = await api.http.request(method, url, json=body, headers=api.other_key)
        assert r.status_code == 404, (method, url, r.text)
        assert r.json()["detail"] == f"no experiment {eid!r}"
    listed = await api.http.get("/v1/experiments", headers=api.other_key)
    assert listed.json() == {"experiments": []}
    mine = (await api.http.get(f"/v1/experiments/{eid}", headers=api.key)).json()
    assert mine["name"] == BODY["name"] and mine["status"] == "draft" and mine["version"] == 1
    assert [e for e in await api.audit(api.other_key)] == []
    # Unknown ids and malformed ids too; no key at all is a 401.
    r = await api.http.get("/v1/experiments/exp_0000000000000000", headers=api.key)
    assert r.status_code == 404
    r = await api.http.get("/v1/experiments/nope", headers=api.key)
    assert r.status_code == 422
    assert (await api.http.get("/v1/experiments")).status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({**BODY, "arms": BODY["arms"][:1]}, 422, "at least 2"),
        ({**BODY, "behaviour": "upsell"}, 422, "behaviour"),
        (
            {
                **BODY,
                "arms": [
                    BODY["arms"][0],
                    {"name": "d", "weight": 5, "params": {"offer": "discount"}},
                ],
            },
            422,
            "needs discount_percent",
        ),
        ({**BODY, "arms": [BODY["arms"][0], BODY["arms"][0]]}, 422, "arm names must differ"),
        (
            {
                **BODY,
                "behaviour": "retention",
                "arms": [
                    BODY["arms"][0],
                    {"name": "b", "weight": 1, "params": {"delay_minutes": 5}},
                ],
            },
            422,
            "retention offer is made at once",
        ),
        ({**BODY, "salt": "mine"}, 422, "salt"),
        ({**BODY, "name": "two\nlines\x00"}, 422, "one line of text"),
    ],
)
async def test_bad_input_changes_nothing(
    api: Api, body: dict[str, Any], status: int, says: str
) -> None:
    r = await api.http.post("/v1/experiments", json=body, headers=api.key)
    assert r.status_code == status, r.text
    assert says in r.text
    assert api.experiments_in_db() == 0
    assert await api.audit() == []


@pytest.mark.parametrize(
    ("patch", "says"),
    [
        ({"name": "   "}, "must not be blank"),
        ({"colour": "red"}, "colour"),
        ({"arms": [{"name": "a", "weight": 1}]}, "at least 2"),
        ({"arms": [BODY["arms"][0], BODY["arms"][0]]}, "arm names must differ"),
        ({"version": 0}, "version"),
    ],
)
async def test_a_bad_patch_changes_nothing(api: Api, patch: dict[str, Any], says: str) -> None:
    made = (await api.http.post("/v1/experiments", json=BODY, headers=api.key)).json()
    r = await api.http.patch(
        f"/v1/experiments/{made['experiment_id']}", json=patch, headers=api.key
    )
    assert r.status_code == 422 and says in r.text, r.text
    after = await api.http.get(f"/v1/experiments/{made['experiment_id']}", headers=api.key)
    assert after.json() == made
    assert [e["action"] for e in await api.audit()] == ["experiment.create"]


async def test_reading_is_for_every_operator_changing_needs_edit_policy(api: Api) -> None:
    eid = (await api.http.post("/v1/experiments", json=BODY, headers=api.key)).json()[
        "experiment_id"
    ]
    supervisor = create_operator(
        api.sessions, api.shop.tenant_id, "sup@shop.example", "supervisor", actor="test"
    )
    bearer = {"Authorization": f"Bearer {supervisor.api_token}"}
    assert (await api.http.get(f"/v1/experiments/{eid}", headers=bearer)).status_code == 200
    assert (await api.http.get(f"/v1/experiments/{eid}/results", headers=bearer)).is_success
    r = await api.http.post(f"/v1/experiments/{eid}/start", headers=bearer)
    assert r.status_code == 403 and "edit_policy" in r.json()["detail"]
    assert (await api.http.post("/v1/experiments", json=BODY, headers=bearer)).status_code == 403
    assert api.experiments_in_db() == 1


def _record(api: Api, eid: str, arm: str, n: int, converted: int, amount: str) -> None:
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with api.sessions.begin() as s:
        for i in range(n):
            s.add(
                SalesTouch(
                    touch_id=f"{arm}-{i}",
                    tenant_id=api.shop.tenant_id,
                    store_user_id=f"u{i}",
                    kind="abandoned_checkout",
                    subject_id=f"chk-{arm}-{i}",
                    experiment_id=eid,
                    arm=arm,
                    status="control" if arm == "holdout" else "sent",
                    workflow_id=f"wf-{arm}-{i}",
                    at=at,
                )
            )
        s.flush()
        for i in range(converted):
            s.add(
                SalesConversion(
                    tenant_id=api.shop.tenant_id,
                    order_id=f"#{arm}-{i}",
                    touch_id=f"{arm}-{i}",
                    amount=Decimal(amount),
                    placed_at=at,
                )
            )


async def test_results_carry_intervals_and_the_model(api: Api) -> None:
    eid = (await api.http.post("/v1/experiments", json=BODY, headers=api.key)).json()[
        "experiment_id"
    ]
    await api.http.post(f"/v1/experiments/{eid}/start", headers=api.key)
    _record(api, eid, "holdout", 400, 40, "20.00")
    _record(api, eid, "ten-off", 400, 64, "18.00")

    r = await api.http.get(f"/v1/experiments/{eid}/results", headers=api.key)
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["model"] == MODEL and res["confidence"] == 0.95
    assert res["relative_uplift_model"].startswith("MOVER-R Wilson 95%")
    assert res["control"] == "holdout"
    holdout, discount = res["arms"]
    assert (holdout["exposures"], holdout["conversions"]) == (400, 40)
    assert (discount["exposures"], discount["conversions"]) == (400, 64)
    for arm in res["arms"]:
        low, high = arm["rate_interval"]
        assert low < arm["rate"] < high
    assert holdout["revenue_per_exposure"] == "2.00" and discount["revenue_per_exposure"] == "2.88"
    (c,) = res["comparisons"]
    assert c["arm"] == "ten-off" and c["versus"] == "holdout"
    assert c["difference"] == pytest.approx(0.06)
    assert c["difference_interval"][0] < 0.06 < c["difference_interval"][1]
    assert c["relative_uplift"] == pytest.approx(0.6)
    assert c["relative_uplift_interval"][0] < 0.6 < c["relative_uplift_interval"][1]
    assert any(n.startswith("interim") for n in res["notes"])

    # Another level on request, named in the model; a level out of range is refused.
    r99 = await api.http.get(
        f"/v1/experiments/{eid}/results", params={"confidence": 0.99}, headers=api.key
    )
    wide = r99.json()
    assert wide["model"] == MODEL.replace("95%", "99%")
    assert wide["comparisons"][0]["difference_interval"][0] < c["difference_interval"][0]
    bad = await api.http.get(
        f"/v1/experiments/{eid}/results", params={"confidence": 1.5}, headers=api.key
    )
    assert bad.status_code == 422
