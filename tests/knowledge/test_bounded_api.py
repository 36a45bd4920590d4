"""The knowledge API over real HTTP: writes past a tenant's caps are refused with a clear
422 and change nothing; a write is indexed in the background, so it returns at once and
searches see it shortly after."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from supportflow.api.routers import knowledge
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.knowledge.base import KnowledgeBase
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import serve_router


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[str, CreatedTenant, KnowledgeBase]]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    shop = create_tenant(sessions, "Shop A")
    settings = Settings(data_dir=tmp_path, knowledge_max_articles=3, knowledge_max_chars=5000)
    # Every knowledge base counts as large: nothing is indexed in a request.
    kb = KnowledgeBase(sessions, inline_max_chars=0)
    try:
        async with serve_router(knowledge.router, settings, sessions, knowledge=kb) as base:
            yield base, shop, kb
    finally:
        kb.close()
        engine.dispose()


async def test_caps_and_background_indexing(
    api: tuple[str, CreatedTenant, KnowledgeBase],
) -> None:
    base, shop, _ = api
    h = {"X-Api-Key": shop.api_key}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        warranty = {"title": "Warranty", "body": "Frames carry a lifetime warranty."}
        made = await http.post("/v1/knowledge", json=warranty, headers=h)
        assert made.status_code == 201
        art = made.json()["id"]
        for i in range(2):
            r = await http.post("/v1/knowledge", json={"title": f"N{i}", "body": "x"}, headers=h)
            assert r.status_code == 201
        full = await http.post("/v1/knowledge", json={"title": "N3", "body": "x"}, headers=h)
        assert full.status_code == 422
        assert "at most 3 articles" in full.json()["detail"]
        too_big = {"title": "Warranty", "body": "y " * 2600}
        grow = await http.put(f"/v1/knowledge/{art}", json=too_big, headers=h)
        assert grow.status_code == 422 and "5000 characters" in grow.json()["detail"]
        listed = (await http.get("/v1/knowledge", headers=h)).json()["articles"]
        assert len(listed) == 3 and listed[0]["body"] == warranty["body"]

        # An edit returns without indexing; searches see it once the background is done.
        started = time.perf_counter()
        edited = {"title": "Warranty", "body": "Frames carry a ten-year warranty."}
        assert (await http.put(f"/v1/knowledge/{art}", json=edited, headers=h)).status_code == 200
        assert time.perf_counter() - started < 2.0
        deadline = time.monotonic() + 20
        snippet = ""
        while time.monotonic() < deadline and "ten-year" not in snippet:
            r = await http.get("/v1/knowledge/search", params={"q": "warranty"}, headers=h)
            assert r.status_code in (200, 503), r.text
            if r.status_code == 200:
                snippet = r.json()["hits"][0]["snippet"]
            await asyncio.sleep(0.1)
        assert "ten-year" in snippet
