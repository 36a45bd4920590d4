"""The merchant knowledge API over real HTTP: uvicorn on a free port, a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from supportflow.api.routers import knowledge
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.settings import Settings
from supportflow.tenants.service import CreatedTenant, create_tenant
from tests.helpers import serve_router


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[str, CreatedTenant, CreatedTenant]]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    a, b = create_tenant(sessions, "Shop A"), create_tenant(sessions, "Shop B")
    try:
        async with serve_router(knowledge.router, Settings(data_dir=tmp_path), sessions) as base:
            yield base, a, b
    finally:
        engine.dispose()


def _fields(r: httpx.Response) -> set[str]:
    detail: list[dict[str, Any]] = r.json()["detail"]
    return {str(e["loc"][-1]) for e in detail}


async def test_crud_search_and_isolation(api: tuple[str, CreatedTenant, CreatedTenant]) -> None:
    base, a, b = api
    ha, hb = {"X-Api-Key": a.api_key}, {"X-Api-Key": b.api_key}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        assert (await http.get("/v1/knowledge")).status_code == 401
        assert (await http.get("/v1/knowledge", headers={"X-Api-Key": "nope"})).status_code == 401

        listed = (await http.get("/v1/knowledge", headers=ha)).json()
        assert listed["using_defaults"] and all(x["default"] for x in listed["articles"])
        found = (await http.get("/v1/knowledge/search?q=do you accept paypal", headers=ha)).json()
        assert found["hits"][0]["article_id"] == "default-payment-methods"
        assert found["hits"][0]["answers"]

        warranty = {"title": "Warranty", "body": "Frames carry a lifetime warranty.", "tags": []}
        made = await http.post("/v1/knowledge", json=warranty, headers=ha)
        assert made.status_code == 201, made.text
        art_id = made.json()["id"]
        assert made.headers["Location"] == f"/v1/knowledge/{art_id}"
        listed = (await http.get("/v1/knowledge", headers=ha)).json()
        assert not listed["using_defaults"] and [x["id"] for x in listed["articles"]] == [art_id]

        hit = await http.get("/v1/knowledge/search", params={"q": "frame warranty"}, headers=ha)
        assert hit.json()["hits"][0]["article_id"] == art_id

        # Tenant B sees none of it and cannot touch it.
        other = (await http.get("/v1/knowledge/search?q=frame warranty", headers=hb)).json()
        assert all(h["article_id"] != art_id for h in other["hits"])
        assert (await http.get(f"/v1/knowledge/{art_id}", headers=hb)).status_code == 404
        assert (
            await http.put(f"/v1/knowledge/{art_id}", json=warranty, headers=hb)
        ).status_code == 404
        assert (await http.delete(f"/v1/knowledge/{art_id}", headers=hb)).status_code == 404

        edited = {"title": "Warranty", "body": "Frames carry a ten-year warranty.", "tags": ["x"]}
        put = await http.put(f"/v1/knowledge/{art_id}", json=edited, headers=ha)
        assert put.status_code == 200 and put.json()["body"] == edited["body"]
        hit = (await http.get("/v1/knowledge/search?q=ten-year warranty", headers=ha)).json()
        assert "ten-year" in hit["hits"][0]["snippet"]

        assert (await http.delete(f"/v1/knowledge/{art_id}", headers=ha)).status_code == 204
        assert (await http.delete(f"/v1/knowledge/{art_id}", headers=ha)).status_code == 404
        assert (await http.get("/v1/knowledge", headers=ha)).json()["using_defaults"]


async def test_validation_names_the_field(api: tuple[str, CreatedTenant, CreatedTenant]) -> None:
    base, a, _ = api
    h = {"X-Api-Key": a.api_key}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for body, field in (
            ({"title": "", "body": "x"}, "title"),
            ({"title": "   ", "body": "x"}, "title"),
            ({"title": "t" * 201, "body": "x"}, "title"),
            ({"title": "t", "body": ""}, "body"),
            ({"title": "t", "body": "b" * 8001}, "body"),
            ({"body": "x"}, "title"),
        ):
            r = await http.post("/v1/knowledge", json=body, headers=h)
            assert r.status_code == 422, r.text
            assert field in _fields(r), r.text
        ok = await http.post("/v1/knowledge", json={"title": "t", "body": "b" * 8000}, headers=h)
        assert ok.status_code == 201
        assert (await http.get("/v1/knowledge/search?q=", headers=h)).status_code == 422
        assert (await http.get("/v1/knowledge/kb_0000000000000000", headers=h)).status_code == 404

        imported = await http.post("/v1/knowledge/import-defaults", headers=h)
        assert imported.status_code == 409
