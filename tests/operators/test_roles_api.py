"""Roles on the server (issue 12 item 1), over real HTTP: each merchant write needs its
permission (403 otherwise, and nothing changes), any operator of the tenant may read, an
operator never reaches another tenant (404), and the merchant's API key keeps working as an
admin, exactly as before operators existed."""

from __future__ import annotations

from sqlalchemy import func, select

from supportflow.db.models import KnowledgeArticle, Operator, ReplyTemplate
from supportflow.policy.store import PolicyStore
from tests.operators.conftest import OpsApi, StartOps

ARTICLE = {"title": "Gift wrap", "body": "We gift wrap any order for free.", "tags": []}
TEMPLATE = {"source": "Hello there!"}
POLICY = {"max_auto_refund": "5.00"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _state(api: OpsApi, tenant_id: str) -> tuple[object, ...]:
    """Everything the writes below could change, for one tenant."""
    with api.sessions() as s:
        return (
            PolicyStore(api.sessions).get(tenant_id).model_dump(mode="json"),
            s.scalar(
                select(func.count())
                .select_from(KnowledgeArticle)
                .where(KnowledgeArticle.tenant_id == tenant_id)
            ),
            s.scalar(
                select(func.count())
                .select_from(ReplyTemplate)
                .where(ReplyTemplate.tenant_id == tenant_id)
            ),
            s.scalar(
                select(func.count()).select_from(Operator).where(Operator.tenant_id == tenant_id)
            ),
        )


async def _writes(api: OpsApi, headers: dict[str, str]) -> dict[str, int]:
    """Status of one attempt at each kind of merchant write."""
    http = api.http
    return {
        "policy": (await http.put("/v1/policy", json=POLICY, headers=headers)).status_code,
        "template": (
            await http.put("/v1/templates/greeting", json=TEMPLATE, headers=headers)
        ).status_code,
        "knowledge": (await http.post("/v1/knowledge", json=ARTICLE, headers=headers)).status_code,
        "operators": (
            await http.post(
                "/v1/operators",
                json={"email": f"new{len(headers)}@shop.example", "role": "agent"},
                headers=headers,
            )
        ).status_code,
    }


async def test_each_role_writes_only_what_it_may(start_ops: StartOps) -> None:
    async with start_ops() as api:
        agent = api.operator("agent", limit="30")
        supervisor = api.operator("supervisor")
        tenant = api.shop.tenant_id

        before = _state(api, tenant)
        refused = await _writes(api, _bearer(agent.api_token))
        assert refused == {"policy": 403, "template": 403, "knowledge": 403, "operators": 403}
        assert _state(api, tenant) == before
        r = await api.http.put("/v1/policy", json=POLICY, headers=_bearer(agent.api_token))
        assert r.json()["detail"] == "your role (agent) does not have the edit_policy permission"
        # Reading is for every operator of the tenant.
        for path in ("/v1/policy", "/v1/templates", "/v1/knowledge", "/v1/knowledge/search?q=gift"):
            r = await api.http.get(path, headers=_bearer(agent.api_token))
            assert r.status_code == 200, (path, r.text)
        assert (
            await api.http.get("/v1/operators", headers=_bearer(agent.api_token))
        ).status_code == 403

        # A supervisor looks after the wording and the knowledge base, not money or people.
        done = await _writes(api, _bearer(supervisor.api_token))
        assert done == {"policy": 403, "template": 204, "knowledge": 201, "operators": 403}
        policy, articles, templates, operators = _state(api, tenant)
        assert (policy, operators) == (before[0], before[3])
        assert (articles, templates) == (1, 1)

        # An admin does everything; so does the API key.
        admin = api.operator("admin")
        assert await _writes(api, _bearer(admin.api_token)) == {
            "policy": 200,
            "template": 204,
            "knowledge": 201,
            "operators": 201,
        }


async def test_the_api_key_is_an_admin_as_before(start_ops: StartOps) -> None:
    async with start_ops() as api:
        key = {"X-Api-Key": api.shop.api_key}
        assert await _writes(api, key) == {
            "policy": 200,
            "template": 204,
            "knowledge": 201,
            "operators": 201,
        }
        me = (await api.http.get("/v1/auth/me", headers=key)).json()
        assert me["kind"] == "api_key" and me["role"] == "admin" and me["operator_id"] is None
        assert set(me["permissions"]) >= {"manage_operators", "manage_keys", "edit_policy"}
        # A wrong key still gets exactly the answer it always got, even with a good cookie
        # or token alongside: the key, when sent, is what counts.
        admin = api.operator("admin")
        await api.login(admin)
        wrong = {"X-Api-Key": "sf_live_wrong", "Authorization": f"Bearer {admin.api_token}"}
        r = await api.http.get("/v1/policy", headers=wrong)
        assert r.status_code == 401 and r.json() == {"detail": "unknown tenant or wrong key"}
        # And with nothing at all: 401.
        async with api.client() as anonymous:
            r = await anonymous.get("/v1/policy")
            assert r.status_code == 401


async def test_an_operator_never_reaches_another_tenant(start_ops: StartOps) -> None:
    async with start_ops() as api:
        admin = api.operator("admin")
        theirs = api.operator("agent", tenant=api.other)
        mine = _bearer(admin.api_token)
        other_before = _state(api, api.other.tenant_id)
        base = f"/v1/operators/{theirs.operator.operator_id}"
        for method, path in (
            ("GET", base),
            ("POST", f"{base}/disable"),
            ("GET", f"{base}/tokens"),
            ("POST", f"{base}/tokens"),
            ("POST", f"{base}/tokens/{theirs.token_id}/revoke"),
        ):
            r = await api.http.request(method, path, headers=mine)
            assert r.status_code == 404, (method, path, r.text)
        # Its token, revoked through a path naming one of my operators: still not found.
        r = await api.http.post(
            f"/v1/operators/{admin.operator.operator_id}/tokens/{theirs.token_id}/revoke",
            headers=mine,
        )
        assert r.status_code == 404
        listed = (await api.http.get("/v1/operators", headers=mine)).json()
        assert [o["operator_id"] for o in listed] == [admin.operator.operator_id]
        # Writes land in the operator's own tenant only.
        assert (await api.http.put("/v1/policy", json=POLICY, headers=mine)).status_code == 200
        assert _state(api, api.other.tenant_id) == other_before
        their_token = _bearer(theirs.api_token)
        assert (await api.http.get("/v1/auth/me", headers=their_token)).status_code == 200
        # And signing in names the tenant: the same email elsewhere is another account.
        r = await api.http.post(
            "/v1/auth/login",
            json={
                "tenant_id": api.shop.tenant_id,
                "email": theirs.operator.email,
                "password": theirs.password,
            },
        )
        assert r.status_code == 401


async def test_operator_api_refuses_bad_input_and_changes_nothing(start_ops: StartOps) -> None:
    async with start_ops() as api:
        key = {"X-Api-Key": api.shop.api_key}
        first = await api.http.post(
            "/v1/operators", json={"email": "dup@shop.example", "role": "agent"}, headers=key
        )
        assert first.status_code == 201
        before = _state(api, api.shop.tenant_id)
        cases = [
            ({"email": "DUP@shop.example", "role": "agent"}, 409),
            ({"email": "not-an-email", "role": "agent"}, 422),
            ({"email": "a@shop.example", "role": "owner"}, 422),
            ({"email": "a@shop.example", "role": "agent", "approval_limit": -1}, 422),
            ({"email": "a@shop.example", "role": "agent", "approval_limit": "1.001"}, 422),
            ({"email": "a@shop.example", "role": "admin", "approval_limit": 10}, 422),
        ]
        for body, status in cases:
            r = await api.http.post("/v1/operators", json=body, headers=key)
            assert r.status_code == status, (body, r.text)
        for path in ("/v1/operators/op_nope/disable", "/v1/operators/op_0123456789abcdef/disable"):
            assert (await api.http.post(path, headers=key)).status_code in (404, 422)
        assert _state(api, api.shop.tenant_id) == before
        # Disabling twice is fine; a disabled operator gets no new token.
        op = first.json()["operator"]["operator_id"]
        for _ in range(2):
            r = await api.http.post(f"/v1/operators/{op}/disable", headers=key)
            assert r.status_code == 200 and r.json()["status"] == "disabled"
        r = await api.http.post(f"/v1/operators/{op}/tokens", headers=key)
        assert r.status_code == 409


async def test_only_those_who_manage_keys_see_or_change_the_store_connection(
    start_ops: StartOps,
) -> None:
    """It holds the names of the tenant's store credentials: an admin's (or the key's)."""
    async with start_ops() as api:
        supervisor, admin = api.operator("supervisor"), api.operator("admin")
        connection = {"kind": "demo"}
        r = await api.http.put(
            "/v1/store-connection", json=connection, headers=_bearer(supervisor.api_token)
        )
        assert r.status_code == 403 and "manage_keys" in r.json()["detail"]
        got = await api.http.get("/v1/store-connection", headers=_bearer(supervisor.api_token))
        assert got.status_code == 403
        admin_view = await api.http.get("/v1/store-connection", headers=_bearer(admin.api_token))
        assert admin_view.status_code in (200, 404), admin_view.text
