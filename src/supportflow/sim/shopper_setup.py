"""The tenant set up for a shopper run, through its own API, and put back afterwards.

For the run: sales on, reminders by email after the run's delay, no quiet hours (a run at
22:00 UTC would otherwise wait until 08:00), and an experiment on abandoned checkouts with
the run's arms, created and started. Afterwards the experiment is stopped (its results stay
readable) and the policy the tenant had is restored, as the conversation simulator restores
its confirmation timeout.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from supportflow.sales.experiments import Arm


class SetupRefused(RuntimeError):
    """The stack refused the set-up (another experiment running, a key without rights)."""


@dataclass
class SalesSetup:
    experiment_id: str
    experiment: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    stopped: bool = False


def run_policy(before: dict[str, Any], delay_minutes: int) -> dict[str, Any]:
    """The tenant's policy with sales on for the run: email only (the shoppers consent to
    email only), the run's delay, no quiet hours; everything else as it was."""
    sales = dict(before.get("sales") or {})
    abandoned = dict(sales.get("abandoned_checkout") or {})
    abandoned.update({"enabled": True, "delay": f"PT{delay_minutes}M"})
    sales.update(
        {
            "enabled": True,
            "channels": ["email"],
            "quiet_hours": None,
            "abandoned_checkout": abandoned,
        }
    )
    return {**before, "sales": sales}


def _refused(what: str, r: httpx.Response) -> SetupRefused:
    try:
        detail = str(r.json().get("detail", r.text))
    except ValueError:
        detail = r.text
    return SetupRefused(f"{what}: http {r.status_code}: {detail[:300]}")


@contextlib.asynccontextmanager
async def experiment_run(
    api: httpx.AsyncClient,
    api_key: str,
    *,
    behaviour: str,
    arms: Sequence[Arm],
    name: str,
    policy_for: Callable[[dict[str, Any]], dict[str, Any]],
    turning_on: str,
) -> AsyncIterator[SalesSetup]:
    """The tenant's policy as ``policy_for`` makes it from the current one, and an experiment
    on ``behaviour`` with ``arms``, started; afterwards the experiment is stopped and the
    policy restored (a note says whether it was). ``turning_on`` names the policy change in
    a refusal."""
    headers = {"X-Api-Key": api_key}
    r = await api.get("/v1/policy", headers=headers)
    if r.status_code != 200:
        raise _refused("reading the tenant's policy", r)
    before: dict[str, Any] = r.json()
    r = await api.put("/v1/policy", headers=headers, json=policy_for(before))
    if r.status_code != 200:
        raise _refused(f"{turning_on} (PUT /v1/policy)", r)
    setup: SalesSetup | None = None
    try:
        body = {
            "name": name,
            "behaviour": behaviour,
            "arms": [a.model_dump(mode="json") for a in arms],
        }
        r = await api.post("/v1/experiments", headers=headers, json=body)
        if r.status_code != 201:
            raise _refused("creating the experiment", r)
        experiment: dict[str, Any] = r.json()
        setup = SalesSetup(experiment["experiment_id"], experiment)
        r = await api.post(f"/v1/experiments/{setup.experiment_id}/start", headers=headers)
        if r.status_code != 200:
            # Most likely another experiment on this behaviour is running: not ours to stop.
            # Our draft stays as a record.
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


def sales_setup(
    api: httpx.AsyncClient,
    api_key: str,
    arms: Sequence[Arm],
    delay_minutes: int,
    name: str,
) -> contextlib.AbstractAsyncContextManager[SalesSetup]:
    """Sales on with the run's delay, and an experiment on abandoned checkouts."""
    return experiment_run(
        api,
        api_key,
        behaviour="abandoned_checkout",
        arms=arms,
        name=name,
        policy_for=lambda before: run_policy(before, delay_minutes),
        turning_on="turning sales on for the run",
    )


async def stop_experiment(api: httpx.AsyncClient, api_key: str, setup: SalesSetup) -> None:
    r = await api.post(
        f"/v1/experiments/{setup.experiment_id}/stop", headers={"X-Api-Key": api_key}
    )
    if r.status_code not in (200, 409):  # 409: already stopped
        raise _refused("stopping the experiment", r)
    setup.stopped = True


async def read_results(api: httpx.AsyncClient, api_key: str, experiment_id: str) -> dict[str, Any]:
    r = await api.get(f"/v1/experiments/{experiment_id}/results", headers={"X-Api-Key": api_key})
    if r.status_code != 200:
        raise _refused("reading the experiment's results", r)
    doc: dict[str, Any] = r.json()
    return doc
