"""`supportflow tenants store set/show` as an operator runs them, on SQLite and Postgres:
variable names in the tenant's own namespace only, and no store until one is set."""

from __future__ import annotations

import json
import subprocess

from sqlalchemy import create_engine, text

from supportflow.store.connection import tenant_env_name
from tests.helpers import run_tenants_cli


def _run(
    database_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_tenants_cli(database_url, *args, env=env)


def test_set_and_show_a_shopify_connection(database_url: str) -> None:
    created = json.loads(_run(database_url, "create", "Acme Outdoor").stdout)
    tenant_id = created["tenant_id"]
    shown = json.loads(_run(database_url, "store", "show", tenant_id).stdout)
    assert shown["backend"] is None and "has no store connection" in shown["detail"]
    # The operator may allow tenants the demo store without a connection.
    allowed = _run(
        database_url, "store", "show", tenant_id, env={"SUPPORTFLOW_DEMO_STORE_TENANTS": tenant_id}
    )
    assert json.loads(allowed.stdout)["backend"] == "demo"
    token, stripe = (
        tenant_env_name(tenant_id, "SHOPIFY_TOKEN"),
        tenant_env_name(tenant_id, "STRIPE"),
    )
    secret = "shpat_secret_value_never_printed"
    done = _run(
        database_url,
        "store",
        "set",
        "Acme Outdoor",  # by name, too
        "--backend",
        "shopify",
        "--shop",
        "Acme-Outdoor.myshopify.com",
        "--token-env",
        token,
        "--stripe-key-env",
        stripe,
        env={token: secret},
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["tenant_id"] == tenant_id
    assert out["shop"] == "acme-outdoor.myshopify.com" and out["api_version"] == "2025-07"
    assert out["secrets"] == {token: True, stripe: False}
    assert secret not in done.stdout + done.stderr
    again = _run(database_url, "store", "show", tenant_id, env={token: secret})
    assert json.loads(again.stdout) == out
    # Only names are stored.
    engine = create_engine(database_url)
    with engine.connect() as conn:
        (document,) = conn.execute(text("SELECT document FROM tenant_store_connections")).one()
    engine.dispose()
    assert token in document and secret not in document
    # The operator can give a tenant the demo store explicitly.
    demo = _run(database_url, "store", "set", tenant_id, "--backend", "demo")
    assert demo.returncode == 0 and json.loads(demo.stdout)["backend"] == "demo"


def test_bad_connections_are_refused_clearly(database_url: str) -> None:
    tenant_id = json.loads(_run(database_url, "create", "Acme").stdout)["tenant_id"]
    token = tenant_env_name(tenant_id, "SHOPIFY_TOKEN")
    cases = [
        (["--backend", "shopify", "--token-env", token], "needs shop"),
        (["--backend", "shopify", "--shop", "evil.example.com", "--token-env", token], "myshopify"),
        (
            ["--backend", "shopify", "--shop", "a.myshopify.com", "--token-env", "shpat_abc123"],
            "NAME of an environment variable",
        ),
        (
            ["--backend", "shopify", "--shop", "a.myshopify.com", "--token-env", "SUPPORTFLOW_X"],
            "app's own secrets",
        ),
        (
            ["--backend", "shopify", "--shop", "a.myshopify.com", "--token-env", "HOME"],
            "own namespace",
        ),
        (["--backend", "magento"], "backend"),
    ]
    for args, message in cases:
        done = _run(database_url, "store", "set", tenant_id, *args)
        assert done.returncode == 2, (args, done.stdout)
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
        assert "shpat_abc123" not in done.stderr  # a pasted secret is not echoed back
    missing = _run(database_url, "store", "show", "t_nope")
    assert missing.returncode == 2 and "no tenant" in missing.stderr
