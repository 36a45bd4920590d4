"""`supportflow tenants store set/show` as an operator runs them, on SQLite and Postgres."""

from __future__ import annotations

import json
import os
import subprocess

from sqlalchemy import create_engine, text

from tests.helpers import SUPPORTFLOW


def _run(
    database_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SUPPORTFLOW, "tenants", *args],
        env={**os.environ, "SUPPORTFLOW_DATABASE_URL": database_url, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_set_and_show_a_shopify_connection(database_url: str) -> None:
    created = json.loads(_run(database_url, "create", "Acme Outdoor").stdout)
    tenant_id = created["tenant_id"]
    shown = json.loads(_run(database_url, "store", "show", tenant_id).stdout)
    assert shown["backend"] == "demo" and shown["secrets"] == {}  # the default
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
        "SHOPIFY_TOKEN_ACME",
        "--stripe-key-env",
        "STRIPE_KEY_ACME",
        env={"SHOPIFY_TOKEN_ACME": secret},
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["tenant_id"] == tenant_id
    assert out["shop"] == "acme-outdoor.myshopify.com" and out["api_version"] == "2025-07"
    assert out["secrets"] == {"SHOPIFY_TOKEN_ACME": True, "STRIPE_KEY_ACME": False}
    assert secret not in done.stdout + done.stderr
    again = _run(database_url, "store", "show", tenant_id, env={"SHOPIFY_TOKEN_ACME": secret})
    assert json.loads(again.stdout) == out
    # Only names are stored.
    engine = create_engine(database_url)
    with engine.connect() as conn:
        (document,) = conn.execute(text("SELECT document FROM tenant_store_connections")).one()
    engine.dispose()
    assert "SHOPIFY_TOKEN_ACME" in document and secret not in document


def test_bad_connections_are_refused_clearly(database_url: str) -> None:
    tenant_id = json.loads(_run(database_url, "create", "Acme").stdout)["tenant_id"]
    cases = [
        (["--backend", "shopify", "--token-env", "SHOPIFY_TOKEN_ACME"], "needs shop"),
        (["--backend", "shopify", "--shop", "evil.example.com", "--token-env", "T_X"], "myshopify"),
        (
            ["--backend", "shopify", "--shop", "a.myshopify.com", "--token-env", "shpat_abc123"],
            "NAME of an environment variable",
        ),
        (
            ["--backend", "shopify", "--shop", "a.myshopify.com", "--token-env", "SUPPORTFLOW_X"],
            "app's own secrets",
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
