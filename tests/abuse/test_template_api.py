"""Merchants' templates past the limits, over real HTTP: refused on save with the reason,
and one already stored (saved before the limits existed) costs a customer nothing: the
turn is answered promptly in the default wording."""

from __future__ import annotations

import time

from supportflow.db.models import ReplyTemplate
from supportflow.replies.templates import DEFAULT_TEMPLATES
from tests.abuse.conftest import StartApi

HUGE = "{% for i in range(999) %}{% for j in range(999) %}{{ i }}{% endfor %}{% endfor %}"


async def test_hostile_templates(start_api: StartApi) -> None:
    async with start_api() as api:
        key = {"X-Api-Key": api.tenant.api_key}
        started = time.monotonic()
        r = await api.http.put(
            "/v1/templates/greeting",
            json={"source": "{% for i in range(10**7) %}Hi!{% endfor %}"},
            headers=key,
        )
        assert r.status_code == 422 and "limit" in r.json()["detail"], r.text
        r = await api.http.put("/v1/templates/greeting", json={"source": HUGE}, headers=key)
        assert r.status_code == 422 and "past a limit" in r.json()["detail"], r.text
        assert time.monotonic() - started < 5

        # Stored behind the API's back, for every reply: the turn still gets a real answer.
        with api.sessions.begin() as s:
            for name in DEFAULT_TEMPLATES:
                s.add(ReplyTemplate(tenant_id=api.tenant.tenant_id, name=name, source=HUGE))
        started = time.monotonic()
        r = await api.http.post(
            "/v1/chat/messages",
            json=api.chat(text="hello"),
            headers={"X-Chat-Key": api.tenant.chat_key},
        )
        assert r.status_code == 200, r.text
        reply = r.json()["reply"]
        assert reply and "998" not in reply and len(reply) < 1000
        assert time.monotonic() - started < 15
