"""The demo tenant that `supportflow up` creates once, so the chat page works at once."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from supportflow.crypto.keyring import KeyRing
from supportflow.identity.secrets import UnknownTenant as NoSuchTenant
from supportflow.identity.secrets import rotate_identity_secret
from supportflow.operators.accounts import OperatorExists, create_operator
from supportflow.operators.accounts import UnknownTenant as UnknownOperatorTenant
from supportflow.policy.store import PolicyStore
from supportflow.store.connection_store import StoreConnectionStore, UnknownTenant
from supportflow.tenants.channels import configure_channels, default_support_email
from supportflow.tenants.service import create_tenant
from supportflow.tenants.store_webhooks import new_webhook_secret, set_store_webhook_secret

DEMO_TENANT_NAME = "Demo Store"
# The demo tenant's SMS number: in the 555-01XX range kept for fiction.
DEMO_SMS_NUMBER = "+12025550100"
# The demo admin operator's login (issue 12): a person can open the console at once.
DEMO_OPERATOR_EMAIL = "admin@demo-store.example"

log = logging.getLogger(__name__)


def ensure_demo_tenant(
    sessions: sessionmaker[Session],
    data_dir: Path,
    keyring: KeyRing | None = None,
    *,
    mail_domain: str = "supportflow.localhost",
) -> dict[str, str]:
    """Return the demo tenant's keys, creating the tenant on first start.

    The keys are kept in a 0600 file in the data directory: the API key is stored only as a
    hash in the database, so this file is the operator's one copy of it. With a key ring,
    the file also holds the tenant's ``identity_secret`` (for signing shoppers' identity
    tokens when trying the product), and the demo admin operator's login (``operator_email``,
    ``operator_password``, ``operator_api_token``), created once.
    """
    path = data_dir / "demo-tenant.json"
    if path.exists():
        saved: dict[str, str] = json.loads(path.read_text("utf-8"))
        _use_demo_store(sessions, saved["tenant_id"])  # data dirs from before store isolation
        if keyring is not None and "identity_secret" not in saved:
            # A data dir from before identity verification: give the tenant its secret.
            with contextlib.suppress(NoSuchTenant):
                saved["identity_secret"] = rotate_identity_secret(
                    sessions, keyring, saved["tenant_id"], grace=timedelta(0)
                )
                _write_private(path, saved, replace=True)
        if "operator_email" not in saved and _add_demo_operator(sessions, saved):
            # A data dir from before operators: give the demo tenant its admin.
            _write_private(path, saved, replace=True)
        if keyring is not None and "support_email" not in saved:
            # A data dir from before email and SMS: set up the demo tenant's channels.
            with contextlib.suppress(IntegrityError):
                _add_demo_channels(sessions, keyring, saved, mail_domain)
                _write_private(path, saved, replace=True)
        if keyring is not None and "store_webhook_secret" not in saved:
            # A data dir from before the sales agent: the store's webhooks and sales on.
            with contextlib.suppress(LookupError):
                _add_demo_sales(sessions, keyring, saved)
                _write_private(path, saved, replace=True)
        return saved
    created = create_tenant(sessions, DEMO_TENANT_NAME, keyring=keyring)
    _use_demo_store(sessions, created.tenant_id)
    keys = {
        "tenant_id": created.tenant_id,
        "api_key": created.api_key,
        "chat_key": created.chat_key,
    }
    if created.identity_secret is not None:
        keys["identity_secret"] = created.identity_secret
    _add_demo_operator(sessions, keys)
    if keyring is not None:
        _add_demo_channels(sessions, keyring, keys, mail_domain)
        _add_demo_sales(sessions, keyring, keys)
    _write_private(path, keys, replace=False)
    return keys


def _add_demo_channels(
    sessions: sessionmaker[Session], keyring: KeyRing, keys: dict[str, str], mail_domain: str
) -> None:
    """Email and SMS against local parts (issue 13): the support address the embedded SMTP
    server accepts, and a demo Twilio account whose messages go to the local stand-in for
    Twilio's REST API (listed at /dev/sms). Webhooks are signed with this auth token."""
    tenant_id = keys["tenant_id"]
    channels = {
        "support_email": default_support_email(tenant_id, mail_domain),
        "twilio_account_sid": "AC" + secrets.token_hex(16),
        "twilio_auth_token": secrets.token_hex(16),
        "sms_number": DEMO_SMS_NUMBER,
        "mailgun_signing_key": "key-" + secrets.token_hex(16),
    }
    configure_channels(sessions, keyring, tenant_id, **channels)
    keys.update(channels)


def _add_demo_sales(
    sessions: sessionmaker[Session], keyring: KeyRing, keys: dict[str, str]
) -> None:
    """The sales agent on (issue 14): the demo store signs its webhooks with this secret
    (``store_webhook_secret``), and the demo tenant's policy turns sales messages on, so an
    abandoned checkout gets its reminder with no set-up. A policy the tenant already has is
    left as it is."""
    tenant_id = keys["tenant_id"]
    secret = new_webhook_secret()
    set_store_webhook_secret(sessions, keyring, tenant_id, secret)
    keys["store_webhook_secret"] = secret
    policies = PolicyStore(sessions)
    if not policies.stored(tenant_id):
        policies.put(tenant_id, {"sales": {"enabled": True}})


def _add_demo_operator(sessions: sessionmaker[Session], keys: dict[str, str]) -> bool:
    """Create the demo admin operator and put its login (shown nowhere else) in ``keys``.
    False when it cannot be made: the tenant is not in this database, or an operator with the
    demo email exists already (its password was never saved here)."""
    try:
        made = create_operator(
            sessions, keys["tenant_id"], DEMO_OPERATOR_EMAIL, "admin", actor="up"
        )
    except OperatorExists:
        log.warning(
            "the demo operator exists but its login is not in demo-tenant.json; "
            "create another with `supportflow operators create`"
        )
        return False
    except UnknownOperatorTenant:
        return False  # a keys file left from another database
    keys["operator_id"] = made.operator.operator_id
    keys["operator_email"] = made.operator.email
    keys["operator_password"] = made.password
    keys["operator_api_token"] = made.api_token
    return True


def _write_private(path: Path, keys: dict[str, str], *, replace: bool) -> None:
    if replace:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(keys, f)
        os.replace(tmp, path)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(keys, f)


def _use_demo_store(sessions: sessionmaker[Session], tenant_id: str) -> None:
    """The demo tenant, and only it, acts on the demo store: a stored connection marks it
    (other tenants without one are refused; store/connection_store.py)."""
    # A keys file left from another database names no tenant here: nothing to mark.
    with contextlib.suppress(UnknownTenant):
        StoreConnectionStore(sessions).ensure_demo(tenant_id)
