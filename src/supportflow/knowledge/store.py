"""A tenant's own knowledge articles in the app database: validated on save, tenant-scoped
on every read and write (another tenant's article id is simply not found)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from supportflow.contract.custom_actions import ACTION_NAME_PATTERN
from supportflow.db.models import KnowledgeArticle, Tenant
from supportflow.knowledge.action_text import MAX_ACTION_BODY_CHARS, fields
from supportflow.knowledge.articles import (
    MAX_ARTICLES,
    MAX_BODY_CHARS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    MAX_TITLE_CHARS,
    MAX_TOTAL_CHARS,
    Article,
    default_articles,
)

# What identifies the current content of a tenant's knowledge base: its articles' ids and
# edit times. Cheap to read (an index covers it) and changes on every create, edit, delete.
_ACTION_NAME = re.compile(ACTION_NAME_PATTERN)
Version = tuple[tuple[str, datetime], ...]


class ArticleNotFound(LookupError):
    pass


class InvalidArticle(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class AlreadyHasArticles(RuntimeError):
    pass


class KnowledgeBaseFull(ValueError):
    """A write would take the tenant past its article count or total size."""


@dataclass(frozen=True)
class ArticleDraft:
    title: str
    body: str
    tags: Sequence[str] = ()
    # A custom action answers it: the body is the reply, its ``{field}``s filled from the
    # action's result (knowledge/action_text.py).
    action: str | None = None


def normalise(draft: ArticleDraft) -> ArticleDraft:
    title, body = draft.title.strip(), draft.body.strip()
    if not title or len(title) > MAX_TITLE_CHARS:
        raise InvalidArticle("title", f"must be 1-{MAX_TITLE_CHARS} characters")
    if not body or len(body) > MAX_BODY_CHARS:
        raise InvalidArticle("body", f"must be 1-{MAX_BODY_CHARS} characters")
    tags = list(dict.fromkeys(t.strip().lower() for t in draft.tags if t.strip()))
    if len(tags) > MAX_TAGS or any(len(t) > MAX_TAG_CHARS for t in tags):
        raise InvalidArticle("tags", f"at most {MAX_TAGS} tags of 1-{MAX_TAG_CHARS} characters")
    action = (draft.action or "").strip() or None
    if action is not None:
        if not _ACTION_NAME.fullmatch(action):
            raise InvalidArticle("action", "a custom action's name: lower-case words joined by '_'")
        if len(body) > MAX_ACTION_BODY_CHARS:
            raise InvalidArticle(
                "body",
                f"an article answered by an action is one reply: at most "
                f"{MAX_ACTION_BODY_CHARS} characters",
            )
        if not fields(body):
            raise InvalidArticle(
                "body", "says none of the action's values: write them as {field}, e.g. {points}"
            )
    return ArticleDraft(title=title, body=body, tags=tuple(tags), action=action)


def _article(row: KnowledgeArticle) -> Article:
    return Article(
        id=row.id,
        title=row.title,
        body=row.body,
        tags=tuple(row.tags or ()),
        updated_at=row.updated_at,
        action=row.action,
    )


def _new_id() -> str:
    return "kb_" + uuid.uuid4().hex[:16]


def _chars(d: ArticleDraft) -> int:
    return len(d.title) + len(d.body)


class KnowledgeStore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        max_articles: int = MAX_ARTICLES,
        max_total_chars: int = MAX_TOTAL_CHARS,
    ) -> None:
        self._sessions = sessions
        self.max_articles = max_articles
        self.max_total_chars = max_total_chars

    def size(self, tenant_id: str) -> int:
        """Characters of the tenant's own articles (titles and bodies)."""
        with self._sessions() as s:
            return self._size(s, tenant_id)[1]

    def tenants_with_articles(self) -> list[str]:
        with self._sessions() as s:
            return list(s.scalars(select(KnowledgeArticle.tenant_id).distinct()))

    @staticmethod
    def _size(s: Session, tenant_id: str) -> tuple[int, int]:
        count, chars = s.execute(
            select(
                func.count(),
                func.coalesce(
                    func.sum(
                        func.length(KnowledgeArticle.title) + func.length(KnowledgeArticle.body)
                    ),
                    0,
                ),
            ).where(KnowledgeArticle.tenant_id == tenant_id)
        ).one()
        return int(count), int(chars)

    def _check_room(self, s: Session, tenant_id: str, added: int, chars: int) -> None:
        """Refuse a write past the caps. Holds the tenant's row, so two concurrent writes
        (on Postgres) cannot both pass the check."""
        s.get(Tenant, tenant_id, with_for_update=True)
        count, total = self._size(s, tenant_id)
        if count + added > self.max_articles:
            raise KnowledgeBaseFull(
                f"a knowledge base holds at most {self.max_articles} articles and this one "
                f"has {count}; delete or merge articles first"
            )
        if total + chars > self.max_total_chars:
            raise KnowledgeBaseFull(
                f"a knowledge base holds at most {self.max_total_chars} characters of titles "
                f"and bodies and this one has {total}; this change would add {chars}"
            )

    def own(self, tenant_id: str) -> list[Article]:
        """The tenant's own articles, oldest first."""
        with self._sessions() as s:
            rows = s.scalars(
                select(KnowledgeArticle)
                .where(KnowledgeArticle.tenant_id == tenant_id)
                .order_by(KnowledgeArticle.updated_at, KnowledgeArticle.id)
            )
            return [_article(r) for r in rows]

    def effective(self, tenant_id: str) -> list[Article]:
        """What agents answer from: the tenant's own articles, or the default set if none."""
        return self.own(tenant_id) or list(default_articles())

    def version(self, tenant_id: str) -> Version:
        with self._sessions() as s:
            rows = s.execute(
                select(KnowledgeArticle.id, KnowledgeArticle.updated_at)
                .where(KnowledgeArticle.tenant_id == tenant_id)
                .order_by(KnowledgeArticle.id)
            )
            return tuple((i, t) for i, t in rows)

    def get(self, tenant_id: str, article_id: str) -> Article:
        with self._sessions() as s:
            row = s.get(KnowledgeArticle, article_id)
            if row is None or row.tenant_id != tenant_id:
                raise ArticleNotFound(article_id)
            return _article(row)

    def create(self, tenant_id: str, draft: ArticleDraft) -> Article:
        return self._create_many(tenant_id, [draft])[0]

    def update(self, tenant_id: str, article_id: str, draft: ArticleDraft) -> Article:
        clean = normalise(draft)
        with self._sessions.begin() as s:
            row = s.get(KnowledgeArticle, article_id, with_for_update=True)
            if row is None or row.tenant_id != tenant_id:
                raise ArticleNotFound(article_id)
            grows = _chars(clean) - len(row.title) - len(row.body)
            if grows > 0:
                self._check_room(s, tenant_id, 0, grows)
            row.title, row.body, row.tags = clean.title, clean.body, list(clean.tags)
            row.action = clean.action
            # Set explicitly: an unchanged save still marks the edit, and the version moves.
            row.updated_at = datetime.now(UTC)
            s.flush()
            return _article(row)

    def delete(self, tenant_id: str, article_id: str) -> None:
        with self._sessions.begin() as s:
            done = s.execute(
                delete(KnowledgeArticle).where(
                    KnowledgeArticle.tenant_id == tenant_id, KnowledgeArticle.id == article_id
                )
            )
            if not getattr(done, "rowcount", 0):
                raise ArticleNotFound(article_id)

    def import_defaults(self, tenant_id: str) -> list[Article]:
        """Copy the default set into the tenant's own articles, so the merchant can edit it.

        Only for a tenant with no articles: copying next to existing ones would bring back
        defaults the merchant chose to replace.
        """
        with self._sessions() as s:
            count = s.scalar(
                select(func.count())
                .select_from(KnowledgeArticle)
                .where(KnowledgeArticle.tenant_id == tenant_id)
            )
        if count:
            raise AlreadyHasArticles(tenant_id)
        return self._create_many(
            tenant_id, [ArticleDraft(a.title, a.body, a.tags) for a in default_articles()]
        )

    def _create_many(self, tenant_id: str, drafts: Iterable[ArticleDraft]) -> list[Article]:
        clean = [normalise(d) for d in drafts]
        now = datetime.now(UTC)
        rows = [
            KnowledgeArticle(
                id=_new_id(),
                tenant_id=tenant_id,
                title=d.title,
                body=d.body,
                tags=list(d.tags),
                action=d.action,
                updated_at=now,
            )
            for d in clean
        ]
        with self._sessions.begin() as s:
            self._check_room(s, tenant_id, len(rows), sum(_chars(d) for d in clean))
            s.add_all(rows)
            s.flush()
            return [_article(r) for r in rows]
