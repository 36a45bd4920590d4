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
from collections.abc import Sequence
from typing import Any

import httpx

from supportflow.sales.experiments import Arm
from supportflow.sim.canceller_model import REASONS
from supportflow.sim.shopper_setup import SalesSetup, experiment_run


def run_policy(before: dict[str, Any]) -> dict[str, Any]:
    """The tenant's policy with retention on for the run; everything else as it was."""
    sales = dict(before.get("sales") or {})
    retention = dict(sales.get("retention") or {})
    retention.update({"enabled": True, "reasons": list(REASONS)})
    abandoned = dict(sales.get("abandoned_checkout") or {})
    abandoned["enabled"] = False
    sales.update({"enabled": True, "retention": retention, "abandoned_checkout": abandoned})
    return {**before, "sales": sales}


def retention_setup(
    api: httpx.AsyncClient, api_key: str, arms: Sequence[Arm], name: str
) -> contextlib.AbstractAsyncContextManager[SalesSetup]:
    """Retention on for the run, and a retention experiment with the run's arms."""
    return experiment_run(
        api,
        api_key,
        behaviour="retention",
        arms=arms,
        name=name,
        policy_for=run_policy,
        turning_on="turning retention on for the run",
    )
