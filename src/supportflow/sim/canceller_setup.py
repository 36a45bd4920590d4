"""The tenant set up for a canceller run, through its own API, and put back afterwards.

For the run: sales on, retention on for both cancel reasons, and reminders for abandoned
checkouts off (each canceller places its order through a checkout, whose reminder workflow
would be noise in this run), and a ``behaviour: retention`` experiment with the run's arms,
created and started. Afterwards the experiment is stopped (its results stay readable) and
the policy the tenant had is restored. Only one experiment per behaviour may run: if another
retention experiment is running, the run stops there and says so (it is not ours to stop).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from supportflow.sales.experiments import Arm
from supportflow.sim.canceller_model import REASONS
from supportflow.sim.shopper_setup import SalesSetup, SetupRefused, stop_experiment


def run_policy(before: dict[str, Any]) -> dict[str, Any]:
    """The tenant's policy with retention on for the run; everything else as it was."""
    sales = dict(before.get("sales") or {})
    retention = dict(sales.get("retention") or {})
    retention.update({"enabled": True, "reasons": list(REASONS)})
    abandoned = dict(sales.get("abandoned_checkout") or {})
    abandoned["enabled"] = False
    sales.update({"enabled": True, "retention": retention, "abandoned_checkout": abandoned})
    return {**before, "sales": sales}


def _refused(what: str, r: httpx.Response) -> SetupRefused:
    try:
        detail = str(r.json().get("detail", r.text))
    except ValueError:
        detail = r.text
    return SetupRefused(f"{what}: http {r.status_code}: {detail[:300]}")


@contextlib.asynccontextmanager
async def retention_setup(
    api: httpx.AsyncClient, api_key: str, arms: Sequence[Arm], name: str
) -> AsyncIterator[SalesSetup]:
    headers = {"X-Api-Key": api_key}
    r = await api.get("/v1/policy", headers=headers)
    if r.status_code != 200:
        raise _refused("reading the tenant's policy", r)
    before: dict[str, Any] = r.json()
    r = await api.put("/v1/policy", headers=headers, json=run_policy(before))
    if r.status_code != 200:
        raise _refused("turning retention on for the run (PUT /v1/policy)", r)
    setup: SalesSetup | None = None
    try:
        body = {
            "name": name,
            "behaviour": "retention",
            "arms": [a.model_dump(mode="json") for a in arms],
        }
        r = await api.post("/v1/experiments", headers=headers, json=body)
        if r.status_code != 201:
            raise _refused("creating the experiment", r)
        experiment: dict[str, Any] = r.json()
        setup = SalesSetup(experiment["experiment_id"], experiment)
        r = await api.post(f"/v1/experiments/{setup.experiment_id}/start", headers=headers)
        if r.status_code != 200:
            # Most likely another retention experiment is running: not ours to stop. Our
            # draft stays as a record.
            raise _refused("starting the experiment", r)
        setup.experiment = r.json()
        yield setup
    finally:
        if setup is not None and not setup.stopped:
            with contextlib.suppress(httpx.HTTPError, SetupRefused):
                await stop_experiment(api, api_key, setup)
        restored = False
        with contextlib.suppress(httpx.HTTPError):
            r = await api.put("/v1/policy", headers=headers, json=before)
            restored = r.status_code == 200
        if setup is not None:
            setup.notes.append(
                "the tenant's policy was restored after the run"
                if restored
                else "the tenant's policy could NOT be restored after the run"
            )
