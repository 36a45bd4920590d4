"""A tenant's A/B experiment on one sales behaviour: what it is, which arm a unit gets, and
which edits it accepts.

Assignment is a pure function of (salt, experiment id, unit key): the same customer gets
the same arm on any machine, on a retry and on a workflow replay, with no table of
assignments to keep. The sales workflow records the arm it was given (and the experiment's
version) in its history and in ``sales_touches``; results count those records and never
assign again, so an edit made while an experiment runs cannot move anyone already counted.
That is why a running experiment refuses edits to its arms or weights (they would change
who *would* be assigned to what) and accepts only a new name or new parameters for an arm.

Pure: pydantic and hashlib only (no Temporal, no database). ``new_experiment`` draws a random
salt, so call it from the API or an activity, never from workflow code; ``assign`` is safe
anywhere.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Behaviour = Literal["abandoned_checkout", "post_purchase", "retention"]
Status = Literal["draft", "running", "stopped"]
Offer = Literal["none", "discount", "free_shipping", "exchange"]

BEHAVIOURS: tuple[Behaviour, ...] = ("abandoned_checkout", "post_purchase", "retention")
MIN_ARMS, MAX_ARMS = 2, 5
MAX_WEIGHT = 100
MAX_DELAY_MINUTES = 10_080  # one week
MAX_NAME_CHARS = 200
# Fits sales_touches.arm (String(40)); lower case so "Control" and "control" are one name.
ARM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
EXPERIMENT_ID = re.compile(r"^exp_[0-9a-f]{16}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ExperimentError(ValueError):
    """An experiment, or a change to one, that is refused; nothing was changed."""


class InvalidExperiment(ExperimentError):
    """The experiment's own content is wrong (an arm without a weight, two arms of one
    name, a discount without its percent)."""


class EditRefused(ExperimentError):
    """The change is well-formed but not allowed in the experiment's state (a running
    experiment's weights, a stopped one's arms)."""


class ArmParams(BaseModel):
    """What the sales agent does for a unit in this arm."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    offer: Offer = "none"
    # Percent off, with offer="discount" only.
    discount_percent: int | None = Field(default=None, ge=1, le=50)
    # None: the delay in the tenant's sales policy. Not for retention (offered at once).
    delay_minutes: int | None = Field(default=None, ge=1, le=MAX_DELAY_MINUTES)
    # False: a hold-out arm, no message at all. Its units are still recorded (exposures),
    # at the moment the message would have gone out, so the arms stay comparable.
    send: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.offer == "discount" and self.discount_percent is None:
            raise ValueError("offer 'discount' needs discount_percent (1 to 50)")
        if self.offer != "discount" and self.discount_percent is not None:
            raise ValueError("discount_percent is only for offer 'discount'")
        if not self.send and self.offer != "none":
            raise ValueError(
                "a hold-out arm (send: false) sends nothing, so its offer must be 'none'"
            )
        return self


class Arm(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    weight: int = Field(ge=1, le=MAX_WEIGHT)
    params: ArmParams = ArmParams()

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not ARM_NAME.match(value):
            raise ValueError(
                "an arm's name is a slug: lower-case letters, digits, '-' and '_', "
                "1 to 40 characters, starting with a letter or digit"
            )
        return value


class Experiment(BaseModel):
    """One experiment. The first arm is the control: every other arm is compared with it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    experiment_id: str
    tenant_id: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    behaviour: Behaviour
    status: Status = "draft"
    version: int = Field(default=1, ge=1)
    salt: str = Field(min_length=16, max_length=64)
    arms: tuple[Arm, ...] = Field(min_length=MIN_ARMS, max_length=MAX_ARMS)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None

    @field_validator("experiment_id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not EXPERIMENT_ID.match(value):
            raise ValueError("an experiment id looks like exp_ and 16 hex digits")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the name must not be blank")
        if _CONTROL.search(value):
            raise ValueError("the name must be one line of text (no control characters)")
        return value.strip()

    @model_validator(mode="after")
    def _arms(self) -> Self:
        names = [a.name for a in self.arms]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"arm names must differ: {', '.join(repeated)} appears twice")
        for arm in self.arms:
            if self.behaviour == "retention" and arm.params.delay_minutes is not None:
                raise ValueError(
                    f"arm {arm.name!r}: a retention offer is made at once, so it has no "
                    "delay_minutes"
                )
            if self.behaviour != "retention" and arm.params.offer == "exchange":
                raise ValueError(f"arm {arm.name!r}: offer 'exchange' is for retention only")
        return self

    @property
    def control(self) -> Arm:
        return self.arms[0]

    def arm(self, name: str) -> Arm | None:
        return next((a for a in self.arms if a.name == name), None)


def invalid(err: ValidationError, what: str = "experiment") -> InvalidExperiment:
    """One readable sentence per problem: 'arms.1.params: offer 'discount' needs ...'."""
    errors = err.errors(include_url=False)
    # An arm that fails its own checks also leaves the list "too short": say only the cause.
    if any(len(e["loc"]) > 1 and e["loc"][0] == "arms" for e in errors):
        errors = [e for e in errors if not (e["loc"] == ("arms",) and e["type"] == "too_short")]
    problems = []
    for e in errors:
        where = ".".join(str(p) for p in e["loc"])
        message = str(e["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return InvalidExperiment(f"invalid {what}: " + "; ".join(problems))


def _build(fields: Mapping[str, Any]) -> Experiment:
    try:
        return Experiment.model_validate(dict(fields))
    except ValidationError as err:
        raise invalid(err) from None


def new_experiment_id() -> str:
    return "exp_" + secrets.token_hex(8)


def new_experiment(
    tenant_id: str,
    name: str,
    behaviour: str,
    arms: Sequence[Arm | Mapping[str, Any]],
    *,
    now: datetime | None = None,
) -> Experiment:
    """A draft with a fresh id and a random salt; InvalidExperiment says what is wrong."""
    at = now or datetime.now(UTC)
    return _build(
        {
            "experiment_id": new_experiment_id(),
            "tenant_id": tenant_id,
            "name": name,
            "behaviour": behaviour,
            "status": "draft",
            "version": 1,
            "salt": secrets.token_hex(16),
            "arms": [a.model_dump() if isinstance(a, Arm) else dict(a) for a in arms],
            "created_at": at,
            "updated_at": at,
        }
    )


# --- assignment --------------------------------------------------------------------------------
def bucket(experiment: Experiment, unit_key: str) -> int:
    """Where ``unit_key`` falls in [0, total weight): the first 8 bytes of SHA-256 over
    salt, experiment id and unit key, scaled by integer arithmetic (no float rounding, so
    every machine agrees)."""
    if not unit_key:
        raise ValueError("the unit key (the customer's id) must not be empty")
    material = f"{experiment.salt}:{experiment.experiment_id}:{unit_key}".encode()
    draw = int.from_bytes(hashlib.sha256(material).digest()[:8], "big")
    total = sum(a.weight for a in experiment.arms)
    return (draw * total) >> 64


def assign(experiment: Experiment, unit_key: str) -> Arm:
    """The arm ``unit_key`` (the store customer's id) gets: deterministic, in proportion to
    the weights. Record the result; never call this again to find out what someone got."""
    point = bucket(experiment, unit_key)
    upto = 0
    for arm in experiment.arms:
        upto += arm.weight
        if point < upto:
            return arm
    raise AssertionError("unreachable: the bucket is below the total weight")


# --- lifecycle and edits -----------------------------------------------------------------------
class ExperimentEdit(BaseModel):
    """A change: only the fields given change. ``arms`` replaces the whole list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_CHARS)
    behaviour: Behaviour | None = None
    arms: tuple[Arm, ...] | None = Field(default=None, min_length=MIN_ARMS, max_length=MAX_ARMS)


def _running_refusal(what: str) -> EditRefused:
    return EditRefused(
        f"{what} cannot change while the experiment is running (units already assigned "
        "would no longer match it): stop it and create a new experiment"
    )


def changed_fields(before: Experiment, after: Experiment) -> list[str]:
    """What an edit changed, by name ("name", "behaviour", "arms", "params:<arm>")."""
    changed = []
    if before.name != after.name:
        changed.append("name")
    if before.behaviour != after.behaviour:
        changed.append("behaviour")
    layout = [(a.name, a.weight) for a in before.arms]
    if layout != [(a.name, a.weight) for a in after.arms]:
        changed.append("arms")
    else:
        for old, new in zip(before.arms, after.arms, strict=True):
            if old.params != new.params:
                changed.append(f"params:{old.name}")
    return changed


def edit(
    experiment: Experiment, change: ExperimentEdit, *, now: datetime | None = None
) -> Experiment:
    """The experiment after ``change`` (version + 1), or the same one when it changes nothing.

    A draft accepts any change. A running experiment keeps its behaviour, arms (names,
    order) and weights; its name and its arms' params may change. A stopped experiment is a
    record: only its name may change. Refusals raise EditRefused, bad content
    InvalidExperiment; either way nothing changed."""
    fields = experiment.model_dump()
    given = change.model_dump(exclude_unset=True)
    if given.get("name") is not None:
        fields["name"] = given["name"]
    if given.get("behaviour") is not None:
        fields["behaviour"] = given["behaviour"]
    if given.get("arms") is not None:
        fields["arms"] = given["arms"]
    updated = _build(fields)
    changed = changed_fields(experiment, updated)
    if not changed:
        return experiment
    if experiment.status == "running":
        if "behaviour" in changed:
            raise _running_refusal("the behaviour")
        if "arms" in changed:
            raise _running_refusal("the arms and their weights")
    if experiment.status == "stopped" and changed != ["name"]:
        raise EditRefused("a stopped experiment is a record: only its name may change")
    return updated.model_copy(
        update={"version": experiment.version + 1, "updated_at": now or datetime.now(UTC)}
    )


def started(experiment: Experiment, *, now: datetime | None = None) -> Experiment:
    """Running from now. Only a draft starts (a stopped experiment's results are final: run
    a new one). One running experiment per tenant and behaviour is the store's check."""
    if experiment.status != "draft":
        raise EditRefused(f"the experiment is {experiment.status}; only a draft can start")
    at = now or datetime.now(UTC)
    return experiment.model_copy(update={"status": "running", "started_at": at, "updated_at": at})


def stopped(experiment: Experiment, *, now: datetime | None = None) -> Experiment:
    """Stopped from now: no new assignments; results stay readable."""
    if experiment.status != "running":
        raise EditRefused(f"the experiment is {experiment.status}; only a running one can stop")
    at = now or datetime.now(UTC)
    return experiment.model_copy(update={"status": "stopped", "stopped_at": at, "updated_at": at})
