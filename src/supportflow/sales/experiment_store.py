"""Tenants' experiments in the app database: create, edit, start and stop them, find the one
running on a behaviour (the sales activity asks), and count their results from the touches
and conversions the sales agent recorded.

Every change is checked by the pure rules in ``sales/experiments.py`` first and written with
a compare-and-set on (version, status), so two people editing at once cannot both win, and a
unique ``running_key`` lets the database itself refuse a second running experiment on one
behaviour. Another tenant's experiment is simply not found.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from supportflow.db.models import ExperimentRow, ExperimentVersionRow, SalesConversion, SalesTouch
from supportflow.sales.experiment_results import ArmCounts, ExperimentResults, summarise
from supportflow.sales.experiments import (
    Arm,
    EditRefused,
    Experiment,
    ExperimentEdit,
    ExperimentError,
    InvalidExperiment,
    changed_fields,
    edit,
    invalid,
    new_experiment,
    started,
    stopped,
)
from supportflow.sales.stats import DEFAULT_CONFIDENCE

# How touches recorded without an arm name are shown among unknown arms.
NO_ARM = "(none)"


class ExperimentNotFound(LookupError):
    def __init__(self, experiment_id: str) -> None:
        super().__init__(f"no experiment {experiment_id!r}")
        self.experiment_id = experiment_id


class AlreadyRunning(EditRefused):
    """Another experiment of the tenant already runs on this behaviour."""

    def __init__(self, behaviour: str, running_id: str | None) -> None:
        which = f" ({running_id})" if running_id else ""
        super().__init__(
            f"another experiment{which} is already running on {behaviour} for this tenant: "
            "stop it first (one running experiment per behaviour)"
        )
        self.running_id = running_id


class VersionConflict(EditRefused):
    """The experiment changed since the caller read it."""


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _experiment(row: ExperimentRow) -> Experiment:
    return Experiment.model_validate(
        {
            "experiment_id": row.experiment_id,
            "tenant_id": row.tenant_id,
            "name": row.name,
            "behaviour": row.behaviour,
            "status": row.status,
            "version": row.version,
            "salt": row.salt,
            "arms": row.arms,
            "created_at": _utc(row.created_at),
            "updated_at": _utc(row.updated_at),
            "started_at": _utc(row.started_at),
            "stopped_at": _utc(row.stopped_at),
        }
    )


def _arms_json(experiment: Experiment) -> list[dict[str, object]]:
    return [a.model_dump(mode="json") for a in experiment.arms]


def _running_key(tenant_id: str, behaviour: str) -> str:
    return f"{tenant_id}:{behaviour}"


def _running_row(s: Session, tenant_id: str, behaviour: str) -> ExperimentRow | None:
    return s.scalar(
        select(ExperimentRow).where(ExperimentRow.running_key == _running_key(tenant_id, behaviour))
    )


def _version_row(experiment: Experiment, at: datetime) -> ExperimentVersionRow:
    return ExperimentVersionRow(
        experiment_id=experiment.experiment_id,
        version=experiment.version,
        name=experiment.name,
        behaviour=experiment.behaviour,
        arms=_arms_json(experiment),
        status=experiment.status,
        saved_at=at,
    )


def parse_edit(change: ExperimentEdit | Mapping[str, Any]) -> ExperimentEdit:
    if isinstance(change, ExperimentEdit):
        return change
    try:
        return ExperimentEdit.model_validate(dict(change))
    except ValidationError as err:
        raise invalid(err, "change") from None


class ExperimentStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # --- reading ---------------------------------------------------------------------------
    def _row(self, s: Session, tenant_id: str, experiment_id: str) -> ExperimentRow:
        row = s.get(ExperimentRow, experiment_id)
        if row is None or row.tenant_id != tenant_id:
            raise ExperimentNotFound(experiment_id)
        return row

    def get(self, tenant_id: str, experiment_id: str) -> Experiment:
        with self._sessions() as s:
            return _experiment(self._row(s, tenant_id, experiment_id))

    def of_tenant(self, tenant_id: str) -> list[Experiment]:
        """The tenant's experiments, newest first."""
        with self._sessions() as s:
            rows = s.scalars(
                select(ExperimentRow)
                .where(ExperimentRow.tenant_id == tenant_id)
                .order_by(ExperimentRow.created_at.desc(), ExperimentRow.experiment_id)
            ).all()
            return [_experiment(r) for r in rows]

    def running(self, tenant_id: str, behaviour: str) -> Experiment | None:
        with self._sessions() as s:
            row = _running_row(s, tenant_id, behaviour)
            return None if row is None else _experiment(row)

    def versions(self, tenant_id: str, experiment_id: str) -> list[Experiment]:
        """Every saved version, oldest first (status as it was when saved)."""
        with self._sessions() as s:
            current = _experiment(self._row(s, tenant_id, experiment_id))
            rows = s.scalars(
                select(ExperimentVersionRow)
                .where(ExperimentVersionRow.experiment_id == experiment_id)
                .order_by(ExperimentVersionRow.version)
            ).all()
            return [
                current.model_copy(
                    update={
                        "version": r.version,
                        "name": r.name,
                        "status": r.status,
                        "arms": tuple(Arm.model_validate(a) for a in r.arms),
                        "updated_at": _utc(r.saved_at),
                    }
                )
                for r in rows
            ]

    # --- changing --------------------------------------------------------------------------
    def create(
        self,
        tenant_id: str,
        name: str,
        behaviour: str,
        arms: Sequence[Arm | Mapping[str, Any]],
    ) -> Experiment:
        """A new draft; InvalidExperiment says what is wrong (nothing is written)."""
        made = new_experiment(tenant_id, name, behaviour, arms)
        at = made.created_at or datetime.now(UTC)
        with self._sessions.begin() as s:
            s.add(
                ExperimentRow(
                    experiment_id=made.experiment_id,
                    tenant_id=tenant_id,
                    name=made.name,
                    behaviour=made.behaviour,
                    status=made.status,
                    version=made.version,
                    salt=made.salt,
                    arms=_arms_json(made),
                    created_at=at,
                    updated_at=at,
                )
            )
            s.flush()  # the experiment row first: the version row refers to it
            s.add(_version_row(made, at))
        return made

    def edit(
        self,
        tenant_id: str,
        experiment_id: str,
        change: ExperimentEdit | Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> tuple[Experiment, list[str]]:
        """The experiment after the change and what changed ([] when nothing did: the
        version stays). EditRefused (or VersionConflict when ``expected_version`` is not the
        current one) and InvalidExperiment change nothing."""
        parsed = parse_edit(change)
        with self._sessions.begin() as s:
            before = _experiment(self._row(s, tenant_id, experiment_id))
            if expected_version is not None and expected_version != before.version:
                raise VersionConflict(
                    f"the experiment is at version {before.version}, not {expected_version}: "
                    "read it again and repeat the change"
                )
            after = edit(before, parsed)
            changed = changed_fields(before, after)
            if not changed:
                return before, []
            self._write(s, before, after)
            s.add(_version_row(after, after.updated_at or datetime.now(UTC)))
        return after, changed

    def start(self, tenant_id: str, experiment_id: str) -> Experiment:
        """Running from now; AlreadyRunning when another one runs on the same behaviour."""
        with self._sessions() as s:
            behaviour = self._row(s, tenant_id, experiment_id).behaviour
        try:
            with self._sessions.begin() as s:
                before = _experiment(self._row(s, tenant_id, experiment_id))
                after = started(before)
                other = _running_row(s, tenant_id, behaviour)
                if other is not None:
                    raise AlreadyRunning(behaviour, other.experiment_id)
                self._write(s, before, after)
        except IntegrityError:
            # Started elsewhere between the check and the write: the unique key said no.
            running = self.running(tenant_id, behaviour)
            raise AlreadyRunning(
                behaviour, None if running is None else running.experiment_id
            ) from None
        return after

    def stop(self, tenant_id: str, experiment_id: str) -> Experiment:
        """Stopped from now: no new units are assigned; recorded ones stay counted."""
        with self._sessions.begin() as s:
            before = _experiment(self._row(s, tenant_id, experiment_id))
            after = stopped(before)
            self._write(s, before, after)
        return after

    def _write(self, s: Session, before: Experiment, after: Experiment) -> None:
        """Store ``after`` if the row is still ``before`` (same version and status)."""
        done: CursorResult[Any] = s.execute(  # type: ignore[assignment]
            update(ExperimentRow)
            .where(
                ExperimentRow.experiment_id == before.experiment_id,
                ExperimentRow.version == before.version,
                ExperimentRow.status == before.status,
            )
            .values(
                name=after.name,
                behaviour=after.behaviour,
                status=after.status,
                version=after.version,
                arms=_arms_json(after),
                running_key=_running_key(after.tenant_id, after.behaviour)
                if after.status == "running"
                else None,
                updated_at=after.updated_at,
                started_at=after.started_at,
                stopped_at=after.stopped_at,
            )
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:
            raise VersionConflict(
                "the experiment was changed meanwhile: read it again and repeat the change"
            )


def running_experiment(
    sessions: sessionmaker[Session], tenant_id: str, behaviour: str
) -> Experiment | None:
    """The experiment running on ``behaviour`` for the tenant, if any (the sales activity
    assigns with ``sales.experiments.assign`` and records experiment id, version and arm)."""
    return ExperimentStore(sessions).running(tenant_id, behaviour)


def _saves(s: Session, tenant_id: str, experiment_id: str) -> dict[str, ArmCounts]:
    """A retention experiment's counts: cancel requests per arm, and those whose order was
    kept (the touch settled "saved" when its case closed)."""
    rows = s.execute(
        select(SalesTouch.arm, SalesTouch.status, func.count())
        .where(SalesTouch.tenant_id == tenant_id, SalesTouch.experiment_id == experiment_id)
        .group_by(SalesTouch.arm, SalesTouch.status)
    ).all()
    exposures: dict[str, int] = {}
    saves: dict[str, int] = {}
    for arm, status, n in rows:
        key = arm or NO_ARM
        exposures[key] = exposures.get(key, 0) + int(n)
        if status == "saved":
            saves[key] = saves.get(key, 0) + int(n)
    return {k: ArmCounts(exposures=n, conversions=saves.get(k, 0)) for k, n in exposures.items()}


def _counts(s: Session, tenant_id: str, experiment_id: str) -> dict[str, ArmCounts]:
    exposures = s.execute(
        select(SalesTouch.arm, func.count())
        .where(SalesTouch.tenant_id == tenant_id, SalesTouch.experiment_id == experiment_id)
        .group_by(SalesTouch.arm)
    ).all()
    # A touch converts once however many orders are attributed to it (a rate stays a
    # proportion); revenue counts every attributed order.
    conversions = s.execute(
        select(
            SalesTouch.arm,
            func.count(func.distinct(SalesConversion.touch_id)),
            func.sum(SalesConversion.amount),
        )
        .join(SalesConversion, SalesConversion.touch_id == SalesTouch.touch_id)
        .where(
            SalesTouch.tenant_id == tenant_id,
            SalesTouch.experiment_id == experiment_id,
            SalesConversion.tenant_id == tenant_id,
        )
        .group_by(SalesTouch.arm)
    ).all()
    counts = {arm or NO_ARM: ArmCounts(exposures=int(n)) for arm, n in exposures}
    for arm, converted, revenue in conversions:
        key = arm or NO_ARM
        counts[key] = ArmCounts(
            exposures=counts.get(key, ArmCounts()).exposures,
            conversions=int(converted),
            # str(): SQLite sums NUMERIC as a float; the cents are rounded when shown.
            revenue=Decimal(str(revenue or 0)),
        )
    return counts


def _notes(experiment: Experiment, versions: list[Experiment]) -> list[str]:
    notes = []
    if experiment.status == "draft":
        notes.append("not started: no unit has been assigned yet")
    elif experiment.status == "running":
        notes.append(
            "interim: the experiment is still running. Stopping the first time an interval "
            "clears zero overstates the evidence; decide the sample size before looking."
        )
    for before, after in itertools.pairwise(versions):
        if after.status != "running":
            continue
        for old, new in zip(before.arms, after.arms, strict=False):
            if old.params != new.params:
                notes.append(
                    f"arm {old.name!r} changed its parameters while running (version "
                    f"{after.version}): its exposures before and after are counted together"
                )
    return notes


def experiment_results(
    sessions: sessionmaker[Session],
    tenant_id: str,
    experiment_id: str,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
) -> ExperimentResults:
    """Per arm, as the sales agent recorded it (never re-assigned): exposures (touches in the
    arm, any status), conversions (those touches with an attributed order), the rate with
    its Wilson interval, revenue per exposure; each arm against the control (first arm)."""
    store = ExperimentStore(sessions)
    experiment = store.get(tenant_id, experiment_id)
    versions = store.versions(tenant_id, experiment_id)
    with sessions() as s:
        if experiment.behaviour == "retention":
            counts = _saves(s, tenant_id, experiment_id)
        else:
            counts = _counts(s, tenant_id, experiment_id)
    return summarise(experiment, counts, confidence=confidence, notes=_notes(experiment, versions))


__all__ = [
    "AlreadyRunning",
    "ExperimentError",
    "ExperimentNotFound",
    "ExperimentStore",
    "InvalidExperiment",
    "VersionConflict",
    "experiment_results",
    "running_experiment",
]
