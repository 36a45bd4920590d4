"""The experiment model (sales/experiments.py): validation with clear errors, deterministic
assignment in proportion to the weights, and the edit rules that keep a running
experiment's assignments where they are."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from typing import Any

import pytest

from supportflow.sales.experiments import (
    Arm,
    ArmParams,
    EditRefused,
    Experiment,
    ExperimentEdit,
    InvalidExperiment,
    assign,
    bucket,
    edit,
    new_experiment,
    started,
    stopped,
)

SALT = "00112233445566778899aabbccddeeff"


def _experiment(weights: tuple[int, ...] = (50, 30, 20), **extra: Any) -> Experiment:
    names = ["control", "b", "c", "d", "e"]
    return Experiment(
        experiment_id="exp_0123456789abcdef",
        tenant_id="t_1",
        name="Reminder offer",
        behaviour="abandoned_checkout",
        salt=SALT,
        arms=tuple(Arm(name=names[i], weight=w) for i, w in enumerate(weights)),
        **extra,
    )


# --- assignment ------------------------------------------------------------------------------
def test_assignment_is_pinned_to_sha256_of_salt_experiment_and_unit() -> None:
    """The scheme, spelled out independently: first 8 bytes of SHA-256 over
    "salt:experiment_id:unit_key", big-endian, times the total weight, >> 64. Pinned values
    too, so a change to the scheme (which would move running experiments' customers) fails
    here rather than in production."""
    e = _experiment()
    for key in ("cust-1", "cust-2", "cust-3", "gid://shopify/Customer/42", "ü-ñ"):
        digest = hashlib.sha256(f"{SALT}:exp_0123456789abcdef:{key}".encode()).digest()
        assert bucket(e, key) == (int.from_bytes(digest[:8], "big") * 100) >> 64
    got = [(k, bucket(e, k), assign(e, k).name) for k in ("cust-1", "cust-2", "cust-3")]
    assert got == [("cust-1", 52, "b"), ("cust-2", 89, "c"), ("cust-3", 10, "control")]


def test_same_inputs_same_arm_whatever_else_changes() -> None:
    e = _experiment()
    keys = [f"customer-{i}" for i in range(500)]
    first = [assign(e, k).name for k in keys]
    # A copy rebuilt from JSON (another process, another machine) agrees.
    again = Experiment.model_validate_json(e.model_dump_json())
    assert [assign(again, k).name for k in keys] == first
    # Parameters, name and version do not enter the hash: an edit allowed while running moves
    # nobody.
    retuned = e.model_copy(
        update={
            "name": "renamed",
            "version": 7,
            "arms": (
                e.arms[0],
                Arm(name="b", weight=30, params=ArmParams(offer="discount", discount_percent=15)),
                e.arms[2],
            ),
        }
    )
    assert [assign(retuned, k).name for k in keys] == first
    # Another experiment (another salt) splits the same customers independently.
    other = e.model_copy(update={"salt": "f" * 32})
    assert [assign(other, k).name for k in keys] != first


@pytest.mark.parametrize("weights", [(50, 50), (10, 30, 60), (1, 99), (20, 20, 20, 20, 20)])
@pytest.mark.parametrize("salt", [SALT, "a" * 32, "0123456789abcdef" * 2])
def test_counts_over_10k_keys_follow_the_weights(weights: tuple[int, ...], salt: str) -> None:
    """Each arm's count is Binomial(n, w/total) if assignment is fair: allow 4.5 standard
    deviations (a fair hash fails this about once in 150,000 arms)."""
    e = _experiment(weights).model_copy(update={"salt": salt})
    n = 10_000
    counts = Counter(assign(e, f"user-{i}").name for i in range(n))
    total = sum(weights)
    for arm in e.arms:
        p = arm.weight / total
        sd = math.sqrt(n * p * (1 - p))
        assert abs(counts[arm.name] - n * p) <= 4.5 * sd, (arm.name, counts, n * p, sd)
    assert sum(counts.values()) == n


def test_an_empty_unit_key_is_refused() -> None:
    with pytest.raises(ValueError, match="unit key"):
        assign(_experiment(), "")


# --- validation --------------------------------------------------------------------------------
def _arms(*arms: dict[str, Any]) -> list[dict[str, Any]]:
    return list(arms)


@pytest.mark.parametrize(
    ("behaviour", "arms", "message"),
    [
        ("abandoned_checkout", _arms({"name": "a", "weight": 50}), "at least 2"),
        (
            "abandoned_checkout",
            [{"name": f"a{i}", "weight": 10} for i in range(6)],
            "at most 5",
        ),
        (
            "abandoned_checkout",
            _arms({"name": "a", "weight": 50}, {"name": "a", "weight": 50}),
            "arm names must differ: a appears twice",
        ),
        (
            "abandoned_checkout",
            _arms({"name": "a", "weight": 0}, {"name": "b", "weight": 50}),
            "arms.0.weight",
        ),
        (
            "abandoned_checkout",
            _arms({"name": "a", "weight": 101}, {"name": "b", "weight": 50}),
            "arms.0.weight",
        ),
        (
            "abandoned_checkout",
            _arms({"name": "Control Arm", "weight": 50}, {"name": "b", "weight": 50}),
            "slug",
        ),
        (
            "abandoned_checkout",
            _arms(
                {"name": "a", "weight": 50},
                {"name": "b", "weight": 50, "params": {"offer": "discount"}},
            ),
            "offer 'discount' needs discount_percent",
        ),
        (
            "abandoned_checkout",
            _arms(
                {"name": "a", "weight": 50},
                {
                    "name": "b",
                    "weight": 50,
                    "params": {"offer": "discount", "discount_percent": 60},
                },
            ),
            "arms.1.params.discount_percent",
        ),
        (
            "abandoned_checkout",
            _arms(
                {"name": "a", "weight": 50},
                {"name": "b", "weight": 50, "params": {"discount_percent": 10}},
            ),
            "discount_percent is only for offer 'discount'",
        ),
        (
            "abandoned_checkout",
            _arms(
                {"name": "a", "weight": 50, "params": {"send": False, "offer": "free_shipping"}},
                {"name": "b", "weight": 50},
            ),
            "hold-out arm",
        ),
        (
            "abandoned_checkout",
            _arms(
                {"name": "a", "weight": 50},
                {"name": "b", "weight": 50, "params": {"delay_minutes": 10081}},
            ),
            "delay_minutes",
        ),
        (
            "retention",
            _arms(
                {"name": "a", "weight": 50},
                {"name": "b", "weight": 50, "params": {"delay_minutes": 60}},
            ),
            "a retention offer is made at once",
        ),
        (
            "post_purchase",
            _arms(
                {"name": "a", "weight": 50},
                {"name": "b", "weight": 50, "params": {"offer": "exchange"}},
            ),
            "'exchange' is for retention only",
        ),
        ("upsell", _arms({"name": "a", "weight": 50}, {"name": "b", "weight": 50}), "behaviour"),
        (
            "abandoned_checkout",
            _arms({"name": "a", "weight": 50}, {"name": "b", "weight": 50, "colour": "red"}),
            "arms.1.colour",
        ),
    ],
)
def test_bad_experiments_get_a_clear_value_error(
    behaviour: str, arms: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(InvalidExperiment, match="invalid experiment: .*" + message) as caught:
        new_experiment("t_1", "Test", behaviour, arms)
    assert isinstance(caught.value, ValueError)


def test_a_bad_arm_is_named_without_a_misleading_length_error() -> None:
    with pytest.raises(InvalidExperiment) as caught:
        new_experiment(
            "t_1",
            "Test",
            "abandoned_checkout",
            [
                {"name": "a", "weight": 50, "params": {"offer": "discount"}},
                {"name": "b", "weight": 5},
            ],
        )
    assert "needs discount_percent" in str(caught.value)
    assert "at least 2" not in str(caught.value)


def test_a_new_experiment_is_a_draft_with_a_fresh_id_and_salt() -> None:
    arms = [
        {"name": "control", "weight": 50, "params": {"send": False, "delay_minutes": 60}},
        {"name": "ten-off", "weight": 50, "params": {"offer": "discount", "discount_percent": 10}},
    ]
    a = new_experiment("t_1", "  Ten off  ", "abandoned_checkout", arms)
    b = new_experiment("t_1", "Ten off", "abandoned_checkout", arms)
    assert a.status == "draft" and a.version == 1 and a.name == "Ten off"
    assert a.experiment_id != b.experiment_id and a.salt != b.salt
    assert a.control.name == "control" and not a.control.params.send
    retention = new_experiment(
        "t_1",
        "Save",
        "retention",
        [
            {"name": "none", "weight": 1, "params": {"send": False}},
            {"name": "swap", "weight": 1, "params": {"offer": "exchange"}},
        ],
    )
    assert retention.arms[1].params.offer == "exchange"


# --- edits and lifecycle ----------------------------------------------------------------------
def test_a_draft_accepts_any_change_and_counts_versions() -> None:
    e = _experiment()
    renamed = edit(e, ExperimentEdit(name="Second try"))
    assert renamed.version == 2 and renamed.name == "Second try"
    reshaped = edit(
        renamed,
        ExperimentEdit(
            behaviour="post_purchase",
            arms=(Arm(name="x", weight=10), Arm(name="y", weight=90)),
        ),
    )
    assert reshaped.version == 3 and [a.name for a in reshaped.arms] == ["x", "y"]
    # A change to nothing is not a new version.
    assert edit(reshaped, ExperimentEdit(name="Second try")) is reshaped


def test_a_running_experiment_keeps_its_arms_weights_and_behaviour() -> None:
    running = started(_experiment())
    assert running.status == "running" and running.started_at is not None
    refused = [
        ExperimentEdit(behaviour="post_purchase"),
        ExperimentEdit(arms=(Arm(name="control", weight=60), *running.arms[1:])),
        ExperimentEdit(arms=running.arms[:2]),
        ExperimentEdit(arms=(running.arms[1], running.arms[0], running.arms[2])),
        ExperimentEdit(arms=(Arm(name="renamed", weight=50), *running.arms[1:])),
    ]
    for change in refused:
        with pytest.raises(EditRefused, match="cannot change while the experiment is running"):
            edit(running, change)
    # Name and an arm's params may change: a new version, the same split.
    tuned = edit(
        running,
        ExperimentEdit(
            name="Reminder offer (15%)",
            arms=(
                running.arms[0],
                Arm(name="b", weight=30, params=ArmParams(offer="discount", discount_percent=15)),
                running.arms[2],
            ),
        ),
    )
    assert tuned.version == 2 and tuned.status == "running"
    assert tuned.arms[1].params.discount_percent == 15
    keys = [f"k{i}" for i in range(300)]
    assert [assign(tuned, k).name for k in keys] == [assign(running, k).name for k in keys]


def test_lifecycle_draft_running_stopped_and_no_way_back() -> None:
    e = _experiment()
    with pytest.raises(EditRefused, match="only a running one can stop"):
        stopped(e)
    running = started(e)
    with pytest.raises(EditRefused, match="only a draft can start"):
        started(running)
    done = stopped(running)
    assert done.status == "stopped" and done.stopped_at is not None
    with pytest.raises(EditRefused, match="only a draft can start"):
        started(done)
    with pytest.raises(EditRefused, match="only its name may change"):
        edit(done, ExperimentEdit(arms=(Arm(name="control", weight=1), *done.arms[1:])))
    assert edit(done, ExperimentEdit(name="Archived")).name == "Archived"


def test_an_edit_that_breaks_the_rules_of_content_is_invalid_not_refused() -> None:
    running = started(_experiment())
    with pytest.raises(InvalidExperiment, match="arm names must differ"):
        edit(running, ExperimentEdit(arms=(running.arms[0], running.arms[0])))
