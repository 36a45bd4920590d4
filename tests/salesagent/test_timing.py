"""Quiet hours: a sales message due inside them waits for their end, in the tenant's zone."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from supportflow.policy.sales import QuietHours, SalesPolicy
from supportflow.sales.timing import in_quiet_hours, next_allowed

NIGHT = QuietHours(timezone="America/New_York", start=time(21, 0), end=time(8, 0))


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # 14:00 in New York (EST, UTC-5): not quiet, sent as due.
        (datetime(2026, 1, 15, 19, 0, tzinfo=UTC), datetime(2026, 1, 15, 19, 0, tzinfo=UTC)),
        # 22:30 in New York: waits for 08:00 the next morning (13:00 UTC).
        (datetime(2026, 1, 16, 3, 30, tzinfo=UTC), datetime(2026, 1, 16, 13, 0, tzinfo=UTC)),
        # 02:00 in New York: the same morning's 08:00.
        (datetime(2026, 1, 16, 7, 0, tzinfo=UTC), datetime(2026, 1, 16, 13, 0, tzinfo=UTC)),
        # Summer (EDT, UTC-4): 07:59 local waits one minute, to 12:00 UTC.
        (datetime(2026, 7, 1, 11, 59, tzinfo=UTC), datetime(2026, 7, 1, 12, 0, tzinfo=UTC)),
        # Exactly 08:00 local is allowed; exactly 21:00 is quiet.
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), datetime(2026, 7, 1, 12, 0, tzinfo=UTC)),
        (datetime(2026, 7, 2, 1, 0, tzinfo=UTC), datetime(2026, 7, 2, 12, 0, tzinfo=UTC)),
    ],
)
def test_a_message_due_in_quiet_hours_waits_for_their_end(
    utc: datetime, expected: datetime
) -> None:
    assert next_allowed(NIGHT, utc) == expected
    assert in_quiet_hours(NIGHT, utc) == (expected != utc)


def test_a_daytime_span_and_no_quiet_hours() -> None:
    lunch = QuietHours(timezone="UTC", start=time(12, 0), end=time(13, 0))
    at = datetime(2026, 3, 3, 12, 30, tzinfo=UTC)
    assert next_allowed(lunch, at) == datetime(2026, 3, 3, 13, 0, tzinfo=UTC)
    assert next_allowed(lunch, datetime(2026, 3, 3, 13, 0, tzinfo=UTC)).hour == 13
    assert next_allowed(None, at) == at


def test_bad_sales_policies_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="start and end must differ"):
        QuietHours(start=time(8, 0), end=time(8, 0))
    with pytest.raises(ValueError, match="unknown time zone"):
        QuietHours(timezone="not a zone")
    with pytest.raises(ValueError, match=r"abandoned_checkout\.delay"):
        SalesPolicy.model_validate({"abandoned_checkout": {"delay": "PT10S"}})
    with pytest.raises(ValueError, match="channels"):
        SalesPolicy.model_validate({"channels": ["email", "email"]})
    assert SalesPolicy().enabled is False, "sales messages are off until a merchant turns them on"


def test_a_saved_policy_names_the_quiet_hours_zone_it_cannot_find(tmp_path: Path) -> None:
    from supportflow.db.engine import make_engine, make_session_factory
    from supportflow.db.migrate import upgrade
    from supportflow.policy.load import PolicyError
    from supportflow.policy.store import PolicyStore

    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        store = PolicyStore(make_session_factory(engine))
        bad = {"sales": {"quiet_hours": {"timezone": "Mars/Olympus"}}}
        with pytest.raises(PolicyError, match=r"sales\.quiet_hours\.timezone: unknown time zone"):
            store.put("t_any", bad)
        assert not store.stored("t_any"), "nothing is saved"
    finally:
        engine.dispose()
