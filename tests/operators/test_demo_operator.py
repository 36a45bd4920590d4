"""`supportflow up`'s demo admin operator: created once with the demo tenant, its login kept
in demo-tenant.json (0600) like the tenant's other secrets, the same on every restart, and
added to a data dir made before operators existed. Also: migration 0009 goes down and up."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import delete, func, inspect, select

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import alembic_config, upgrade
from supportflow.db.models import Operator, OperatorSession, OperatorToken
from supportflow.operators.sessions import login
from supportflow.stack.demo_tenant import DEMO_OPERATOR_EMAIL, ensure_demo_tenant


def test_demo_admin_is_made_once_and_its_login_kept(database_url: str, tmp_path: Path) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    try:
        keys = ensure_demo_tenant(sessions, tmp_path)
        assert keys["operator_email"] == DEMO_OPERATOR_EMAIL
        path = tmp_path / "demo-tenant.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        done = login(
            sessions,
            keys["tenant_id"],
            keys["operator_email"],
            keys["operator_password"],
            timedelta(hours=1),
        )
        assert done.principal.role == "admin"
        assert done.principal.operator_id == keys["operator_id"]
        # A restart changes nothing.
        assert ensure_demo_tenant(sessions, tmp_path) == keys

        # A data dir from before operators: its keys file gains the login, once.
        with sessions.begin() as s:
            for table in (OperatorSession, OperatorToken, Operator):
                s.execute(delete(table))
        old = {k: v for k, v in keys.items() if not k.startswith("operator_")}
        path.write_text(json.dumps(old))
        upgraded = ensure_demo_tenant(sessions, tmp_path)
        assert upgraded["operator_password"] != keys["operator_password"]
        assert json.loads(path.read_text()) == upgraded
        assert ensure_demo_tenant(sessions, tmp_path) == upgraded
        with sessions() as s:
            assert s.scalar(select(func.count()).select_from(Operator)) == 1
    finally:
        engine.dispose()


def test_migration_0009_goes_down_and_up(database_url: str) -> None:
    upgrade(database_url)
    config = alembic_config(database_url)
    command.downgrade(config, "0008")
    engine = make_engine(database_url)
    try:
        assert not {"operators", "operator_tokens", "operator_sessions"} & set(
            inspect(engine).get_table_names()
        )
        upgrade(database_url)
        inspect(engine).clear_cache()
        names = set(inspect(engine).get_table_names())
        assert {"operators", "operator_tokens", "operator_sessions"} <= names
    finally:
        engine.dispose()
