"""`supportflow tenants store webhooks`: a merchant sets the secret their store signs its
webhooks with (from a named variable, never an argument), or has one made and shown once."""

from __future__ import annotations

import json

from supportflow.db.engine import make_engine, make_session_factory
from supportflow.tenants.store_webhooks import store_webhook_secret
from tests.helpers import TEST_KEYRING, run_tenants_cli


def _tenant(database_url: str) -> str:
    made = run_tenants_cli(database_url, "create", "Hook Shop")
    assert made.returncode == 0, made.stderr
    return str(json.loads(made.stdout)["tenant_id"])


def test_the_secret_comes_from_a_named_variable(database_url: str) -> None:
    tenant = _tenant(database_url)
    secret = "shpss_" + "7" * 32
    done = run_tenants_cli(
        database_url,
        "store",
        "webhooks",
        tenant,
        "--secret-env",
        "SHOP_SECRET",
        env={"SHOP_SECRET": secret},
    )
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert view["webhook_url"].endswith(f"/v1/webhooks/store/{tenant}")
    assert "secret" not in view and secret not in done.stdout + done.stderr
    engine = make_engine(database_url)
    try:
        assert store_webhook_secret(make_session_factory(engine), TEST_KEYRING, tenant) == secret
    finally:
        engine.dispose()


def test_a_made_secret_is_shown_once_and_bad_input_is_refused(database_url: str) -> None:
    tenant = _tenant(database_url)
    made = run_tenants_cli(database_url, "store", "webhooks", tenant)
    assert made.returncode == 0, made.stderr
    assert len(json.loads(made.stdout)["secret"]) >= 32
    unset = run_tenants_cli(database_url, "store", "webhooks", tenant, "--secret-env", "NOPE_UNSET")
    assert unset.returncode == 2 and "NOPE_UNSET is not set" in unset.stderr
    short = run_tenants_cli(
        database_url,
        "store",
        "webhooks",
        tenant,
        "--secret-env",
        "SHORT",
        env={"SHORT": "abc"},
    )
    assert short.returncode == 2 and "at least 16" in short.stderr
    unknown = run_tenants_cli(database_url, "store", "webhooks", "t_0000000000000000")
    assert unknown.returncode != 0
