"""The store and the cached per-tenant index on a real, migrated SQLite database."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from supportflow.knowledge.base import KnowledgeBase
from supportflow.knowledge.store import (
    AlreadyHasArticles,
    ArticleDraft,
    ArticleNotFound,
    InvalidArticle,
    KnowledgeStore,
)
from supportflow.tenants.service import CreatedTenant

WARRANTY = ArticleDraft(
    "Warranty",
    "Every bicycle frame carries a lifetime warranty against manufacturing defects.\n\n"
    "Wheels and components are covered for two years from delivery.",
    ("warranty", "guarantee"),
)
GIFT_WRAP = ArticleDraft("Gift wrapping", "We gift wrap any order for free on request.")


def test_defaults_answer_until_the_tenant_writes_its_own(
    sessions: sessionmaker[Session], shop_a: CreatedTenant
) -> None:
    kb = KnowledgeBase(sessions)
    assert kb.search(shop_a.tenant_id, "how long does a refund take")[0].article_id.startswith(
        "default-"
    )
    kb.store.create(shop_a.tenant_id, WARRANTY)
    hits = kb.search(shop_a.tenant_id, "how long does a refund take")
    assert [h.article_id for h in hits] == [kb.store.own(shop_a.tenant_id)[0].id]
    assert kb.best(shop_a.tenant_id, "how long does a refund take")[0] is None
    match, score = kb.best(shop_a.tenant_id, "is the frame under warranty?")
    assert match is not None and match.article.title == "Warranty"
    assert match.passage.startswith("Every bicycle frame") and score >= kb.min_score


def test_tenants_are_isolated(
    sessions: sessionmaker[Session], shop_a: CreatedTenant, shop_b: CreatedTenant
) -> None:
    kb = KnowledgeBase(sessions)
    mine = kb.store.create(shop_a.tenant_id, WARRANTY)
    kb.store.create(shop_b.tenant_id, GIFT_WRAP)
    assert all(h.title != "Warranty" for h in kb.search(shop_b.tenant_id, "frame warranty"))
    assert kb.best(shop_b.tenant_id, "is the frame under warranty?")[0] is None
    with pytest.raises(ArticleNotFound):
        kb.store.get(shop_b.tenant_id, mine.id)
    with pytest.raises(ArticleNotFound):
        kb.store.update(shop_b.tenant_id, mine.id, GIFT_WRAP)
    with pytest.raises(ArticleNotFound):
        kb.store.delete(shop_b.tenant_id, mine.id)
    assert kb.store.get(shop_a.tenant_id, mine.id).title == "Warranty"


def test_an_edit_invalidates_the_cached_index(
    sessions: sessionmaker[Session], shop_a: CreatedTenant
) -> None:
    kb = KnowledgeBase(sessions)
    art = kb.store.create(shop_a.tenant_id, WARRANTY)
    kb.store.create(shop_a.tenant_id, GIFT_WRAP)
    assert kb.best(shop_a.tenant_id, "is the frame under warranty?")[0] is not None
    builds = kb.builds
    kb.search(shop_a.tenant_id, "gift wrap")
    assert kb.builds == builds, "an unchanged tenant reuses its index"

    # A second store (another process, e.g. the API) edits: this cache still notices.
    other = KnowledgeStore(sessions)
    other.update(
        shop_a.tenant_id,
        art.id,
        ArticleDraft("Returns of bicycles", "Bicycles can be returned within 30 days."),
    )
    assert kb.best(shop_a.tenant_id, "is the frame under warranty?")[0] is None
    match, _ = kb.best(shop_a.tenant_id, "can I return my bicycle")
    assert match is not None and match.article.id == art.id
    assert kb.builds == builds + 1

    other.delete(shop_a.tenant_id, art.id)
    assert kb.best(shop_a.tenant_id, "can I return my bicycle")[0] is None
    other.delete(shop_a.tenant_id, kb.store.own(shop_a.tenant_id)[0].id)
    top = kb.search(shop_a.tenant_id, "can I return my bicycle", k=1)[0]
    assert top.article_id == "default-returns", "no articles left: the defaults answer"


def test_validation_and_import_of_defaults(
    sessions: sessionmaker[Session], shop_a: CreatedTenant
) -> None:
    store = KnowledgeStore(sessions)
    for draft, field in (
        (ArticleDraft("  ", "body"), "title"),
        (ArticleDraft("t" * 201, "body"), "title"),
        (ArticleDraft("title", "b" * 8001), "body"),
        (ArticleDraft("title", "body", tuple(f"t{i}" for i in range(21))), "tags"),
    ):
        with pytest.raises(InvalidArticle) as err:
            store.create(shop_a.tenant_id, draft)
        assert err.value.field == field
    made = store.import_defaults(shop_a.tenant_id)
    assert len(made) == len(store.own(shop_a.tenant_id)) >= 10
    assert all(a.id.startswith("kb_") and not a.default for a in made)
    with pytest.raises(AlreadyHasArticles):
        store.import_defaults(shop_a.tenant_id)
