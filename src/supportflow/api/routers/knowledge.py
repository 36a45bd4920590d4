"""The merchant's knowledge base: list, write, edit and delete articles, and try a search.
The API key or any operator of the tenant reads; writing needs the edit_knowledge permission.
Another tenant's article is never visible: its id is simply not found."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from supportflow.api.audit_trail import audit_change
from supportflow.api.deps import CanEditKnowledge, StateDep, TenantReader, get_state
from supportflow.api.state import ApiState
from supportflow.contract.custom_actions import ACTION_NAME_PATTERN
from supportflow.knowledge.articles import (
    MAX_BODY_CHARS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    MAX_TITLE_CHARS,
    Article,
)
from supportflow.knowledge.base import IndexWarming, KnowledgeBase
from supportflow.knowledge.index import MAX_QUERY_CHARS
from supportflow.knowledge.store import (
    AlreadyHasArticles,
    ArticleDraft,
    ArticleNotFound,
    InvalidArticle,
    KnowledgeBaseFull,
    KnowledgeStore,
)
from supportflow.settings import Settings

router = APIRouter(tags=["knowledge"])

ArticleId = Annotated[str, Path(pattern=r"^kb_[0-9a-f]{16}$")]


class ArticleIn(BaseModel):
    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    tags: list[Annotated[str, Field(max_length=MAX_TAG_CHARS)]] = Field(
        default_factory=list, max_length=MAX_TAGS
    )
    # A custom action of the tenant's policy answers it (issue 16): the body is the reply and
    # says the action's values as {field}, e.g. "You have {points} points."
    action: str | None = Field(default=None, pattern=ACTION_NAME_PATTERN)

    @field_validator("title", "body")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v.strip()

    def draft(self) -> ArticleDraft:
        return ArticleDraft(self.title, self.body, tuple(self.tags), action=self.action)


class ArticleOut(BaseModel):
    id: str
    title: str
    body: str
    tags: list[str]
    action: str | None = None
    updated_at: datetime | None
    # True for the shipped default set, which answers while the tenant has no articles of
    # its own. Defaults are read-only; import them to edit a copy.
    default: bool = False


class ArticleList(BaseModel):
    articles: list[ArticleOut]
    using_defaults: bool


class HitOut(BaseModel):
    article_id: str
    title: str
    snippet: str
    score: float
    # Whether an agent would answer with this article (its score clears the threshold).
    answers: bool


class SearchOut(BaseModel):
    query: str
    min_score: float
    hits: list[HitOut]


def _out(a: Article) -> ArticleOut:
    return ArticleOut(
        id=a.id,
        title=a.title,
        body=a.body,
        tags=list(a.tags),
        action=a.action,
        updated_at=a.updated_at,
        default=a.default,
    )


def _invalid(err: InvalidArticle) -> HTTPException:
    # The same shape FastAPI gives a request-model error, so clients parse one format.
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"loc": ["body", err.field], "msg": err.message, "type": "value_error"}],
    )


def _not_found(article_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no knowledge article {article_id!r}")


def _full(err: KnowledgeBaseFull) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err))


def _store(state: ApiState) -> KnowledgeStore:
    settings: Settings = state.settings
    return KnowledgeStore(
        state.sessions,
        max_articles=settings.knowledge_max_articles,
        max_total_chars=settings.knowledge_max_chars,
    )


def knowledge_base(conn: HTTPConnection) -> KnowledgeBase:
    """The app's one KnowledgeBase, so its index cache outlives a request. The lifespan may
    set `app.state.knowledge`; otherwise the first search makes it."""
    kb = getattr(conn.app.state, "knowledge", None)
    if not isinstance(kb, KnowledgeBase):
        kb = KnowledgeBase(get_state(conn).sessions)
        conn.app.state.knowledge = kb
    return kb


KnowledgeDep = Annotated[KnowledgeBase, Depends(knowledge_base)]


@router.get("/v1/knowledge", response_model=ArticleList)
async def list_articles(who: TenantReader, state: StateDep) -> ArticleList:
    store = KnowledgeStore(state.sessions)
    own = await run_in_threadpool(store.own, who.tenant_id)
    if own:
        return ArticleList(articles=[_out(a) for a in own], using_defaults=False)
    defaults = await run_in_threadpool(store.effective, who.tenant_id)
    return ArticleList(articles=[_out(a) for a in defaults], using_defaults=True)


# Declared before the /{article_id} routes so "search" is never taken for an id.
@router.get("/v1/knowledge/search", response_model=SearchOut)
async def search_articles(
    who: TenantReader,
    kb: KnowledgeDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
    k: Annotated[int, Query(ge=1, le=10)] = 3,
) -> SearchOut:
    try:
        hits = await run_in_threadpool(kb.search, who.tenant_id, q, k)
    except IndexWarming as err:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the knowledge base is being indexed; try again in a few seconds",
            headers={"Retry-After": "5"},
        ) from err
    return SearchOut(
        query=q,
        min_score=kb.min_score,
        hits=[
            HitOut(
                article_id=h.article_id,
                title=h.title,
                snippet=h.snippet,
                score=h.score,
                answers=h.score >= kb.min_score,
            )
            for h in hits
        ],
    )


@router.post(
    "/v1/knowledge/import-defaults",
    response_model=ArticleList,
    status_code=status.HTTP_201_CREATED,
)
async def import_defaults(who: CanEditKnowledge, state: StateDep, kb: KnowledgeDep) -> ArticleList:
    """Copy the default set into the tenant's own articles, to edit it from there."""
    try:
        made = await run_in_threadpool(_store(state).import_defaults, who.tenant_id)
    except AlreadyHasArticles as err:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "this tenant already has knowledge articles"
        ) from err
    except KnowledgeBaseFull as err:
        raise _full(err) from err
    kb.written(who.tenant_id)
    await audit_change(state, who, "knowledge.import_defaults", details={"articles": len(made)})
    return ArticleList(articles=[_out(a) for a in made], using_defaults=False)


@router.post("/v1/knowledge", response_model=ArticleOut, status_code=status.HTTP_201_CREATED)
async def create_article(
    body: ArticleIn,
    who: CanEditKnowledge,
    state: StateDep,
    kb: KnowledgeDep,
    response: Response,
) -> ArticleOut:
    try:
        made = await run_in_threadpool(_store(state).create, who.tenant_id, body.draft())
    except InvalidArticle as err:
        raise _invalid(err) from err
    except KnowledgeBaseFull as err:
        raise _full(err) from err
    # Indexed on write, off the request: searches meanwhile use the last good index.
    kb.written(who.tenant_id)
    await audit_change(state, who, "knowledge.create", target=made.id)
    response.headers["Location"] = f"/v1/knowledge/{made.id}"
    return _out(made)


@router.get("/v1/knowledge/{article_id}", response_model=ArticleOut)
async def get_article(article_id: ArticleId, who: TenantReader, state: StateDep) -> ArticleOut:
    try:
        return _out(
            await run_in_threadpool(KnowledgeStore(state.sessions).get, who.tenant_id, article_id)
        )
    except ArticleNotFound as err:
        raise _not_found(article_id) from err


@router.put("/v1/knowledge/{article_id}", response_model=ArticleOut)
async def update_article(
    article_id: ArticleId,
    body: ArticleIn,
    who: CanEditKnowledge,
    state: StateDep,
    kb: KnowledgeDep,
) -> ArticleOut:
    try:
        done = await run_in_threadpool(
            _store(state).update, who.tenant_id, article_id, body.draft()
        )
    except ArticleNotFound as err:
        raise _not_found(article_id) from err
    except InvalidArticle as err:
        raise _invalid(err) from err
    except KnowledgeBaseFull as err:
        raise _full(err) from err
    kb.written(who.tenant_id)
    await audit_change(state, who, "knowledge.update", target=article_id)
    return _out(done)


@router.delete("/v1/knowledge/{article_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_article(
    article_id: ArticleId, who: CanEditKnowledge, state: StateDep, kb: KnowledgeDep
) -> Response:
    try:
        await run_in_threadpool(_store(state).delete, who.tenant_id, article_id)
    except ArticleNotFound as err:
        raise _not_found(article_id) from err
    kb.written(who.tenant_id)
    await audit_change(state, who, "knowledge.delete", target=article_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
