"""A large knowledge base is indexed off the turn path, and its size is capped: searches
answer from the last good index while an edit is indexed in the background; a first search
waits a bounded time; writes past the caps are refused and change nothing."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportflow.knowledge.base import IndexWarming, KnowledgeBase
from supportflow.knowledge.store import ArticleDraft, KnowledgeBaseFull, KnowledgeStore
from supportflow.tenants.service import CreatedTenant, create_tenant

WARRANTY = ArticleDraft("Warranty", "Every bicycle frame carries a lifetime warranty.")
RETURNS = ArticleDraft("Returns", "Bicycles can be returned within 30 days of delivery.")


def _filler(n: int) -> list[ArticleDraft]:
    body = " ".join(f"word{i} gadget{i % 97} thing{i % 13}." for i in range(900))
    return [ArticleDraft(f"Filler {i}", body[:7900]) for i in range(n)]


def test_an_edit_is_answered_from_the_last_good_index_until_rebuilt(
    sessions: sessionmaker[Session], shop_a: CreatedTenant
) -> None:
    # Every knowledge base counts as large here: nothing is rebuilt in line.
    kb = KnowledgeBase(sessions, inline_max_chars=0)
    art = kb.store.create(shop_a.tenant_id, WARRANTY)
    match, _ = kb.best(shop_a.tenant_id, "is the frame under warranty?")
    assert match is not None and match.article.title == "Warranty"
    builds = kb.builds

    kb.store.update(shop_a.tenant_id, art.id, RETURNS)
    started = time.perf_counter()
    stale, _ = kb.best(shop_a.tenant_id, "is the frame under warranty?")
    assert time.perf_counter() - started < 0.5
    assert stale is not None and stale.article.title == "Warranty", "the last good index"
    assert kb.stale_answers == 1

    kb.refresh_soon(shop_a.tenant_id).result(timeout=30)
    assert kb.builds > builds
    fresh, _ = kb.best(shop_a.tenant_id, "can I return my bicycle?")
    assert fresh is not None and fresh.article.title == "Returns"
    assert kb.best(shop_a.tenant_id, "is the frame under warranty?")[0] is None
    kb.close()


def test_a_first_search_waits_a_bounded_time(
    sessions: sessionmaker[Session], shop_a: CreatedTenant
) -> None:
    store = KnowledgeStore(sessions)
    for draft in [WARRANTY, *_filler(60)]:
        store.create(shop_a.tenant_id, draft)
    kb = KnowledgeBase(sessions, inline_max_chars=0, cold_wait_seconds=0.01)
    started = time.perf_counter()
    assert kb.best(shop_a.tenant_id, "is the frame under warranty?") == (None, 0.0)
    with pytest.raises(IndexWarming):
        kb.search(shop_a.tenant_id, "warranty")
    assert time.perf_counter() - started < 1.0
    kb.refresh_soon(shop_a.tenant_id).result(timeout=60)
    match, _ = kb.best(shop_a.tenant_id, "is the frame under warranty?")
    assert match is not None and match.article.title == "Warranty"
    kb.close()


def test_warm_builds_every_tenant_in_the_background(
    sessions: sessionmaker[Session], shop_a: CreatedTenant, shop_b: CreatedTenant
) -> None:
    store = KnowledgeStore(sessions)
    store.create(shop_a.tenant_id, WARRANTY)
    store.create(shop_b.tenant_id, RETURNS)
    kb = KnowledgeBase(sessions, inline_max_chars=0, cold_wait_seconds=30)
    kb.warm()
    for tenant in (shop_a.tenant_id, shop_b.tenant_id):
        kb.refresh_soon(tenant).result(timeout=30)
    builds = kb.builds
    assert kb.best(shop_b.tenant_id, "can I return my bicycle?")[0] is not None
    assert kb.builds == builds, "warmed: the search built nothing"
    kb.close()


def test_caps_refuse_and_change_nothing(
    sessions: sessionmaker[Session], shop_a: CreatedTenant, shop_b: CreatedTenant
) -> None:
    store = KnowledgeStore(sessions, max_articles=3, max_total_chars=2000)
    made = [store.create(shop_a.tenant_id, d) for d in (WARRANTY, RETURNS)]
    big = ArticleDraft("Big", "x " * 980)
    with pytest.raises(KnowledgeBaseFull, match="at most 2000 characters"):
        store.create(shop_a.tenant_id, ArticleDraft("Bigger", "x " * 990))
    store.create(shop_a.tenant_id, ArticleDraft("Small", "Gift wrap is free."))
    with pytest.raises(KnowledgeBaseFull, match="at most 3 articles"):
        store.create(shop_a.tenant_id, ArticleDraft("Fourth", "One more."))
    with pytest.raises(KnowledgeBaseFull, match="characters"):
        store.update(shop_a.tenant_id, made[0].id, big)
    assert store.get(shop_a.tenant_id, made[0].id).body == WARRANTY.body
    assert len(store.own(shop_a.tenant_id)) == 3
    # A shrinking edit always passes; another tenant has its own room.
    store.update(shop_a.tenant_id, made[1].id, ArticleDraft("Returns", "30 days."))
    store.create(shop_b.tenant_id, big)
    # import-defaults counts the whole set against the cap.
    shop_c = create_tenant(sessions, "Shop C").tenant_id
    with pytest.raises(KnowledgeBaseFull, match="at most 3 articles"):
        KnowledgeStore(sessions, max_articles=3).import_defaults(shop_c)
    assert store.own(shop_c) == []
