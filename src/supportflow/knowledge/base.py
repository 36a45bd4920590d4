"""Search a tenant's knowledge base, with a per-tenant index cached in the process.

Before each search the tenant's version (its articles' ids and edit times, one indexed
query) is compared with the cached index's; any create, edit or delete — from this
process or another one, such as the API writing while a worker answers — rebuilds it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from supportflow.knowledge.articles import default_articles
from supportflow.knowledge.index import Hit, Match, TenantIndex, snippet
from supportflow.knowledge.store import KnowledgeStore, Version

# Below this score the best article is not close enough to quote: the agent says it does
# not know and offers a person. Chosen on the labelled questions in tests/knowledge/
# (see test_retrieval.py for precision@1 and the off-topic margin).
MIN_SCORE = 0.12

# Indexes kept in memory; the least recently searched tenant is dropped first.
MAX_CACHED_TENANTS = 512


@dataclass(frozen=True)
class _Cached:
    version: Version
    index: TenantIndex


class KnowledgeBase:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        min_score: float = MIN_SCORE,
        max_cached: int = MAX_CACHED_TENANTS,
    ) -> None:
        self.store = KnowledgeStore(sessions)
        self.min_score = min_score
        self._max_cached = max_cached
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._lock = threading.Lock()
        self._defaults: TenantIndex | None = None
        self.builds = 0  # indexes built, for tests and metrics

    def search(self, tenant_id: str, query: str, k: int = 3) -> list[Hit]:
        """The k best articles, best first, with their best passage as snippet. Scores below
        the threshold are included: callers that answer must check `min_score`."""
        return [
            Hit(m.article.id, m.article.title, snippet(m.passage), round(m.score, 4))
            for m in self.index(tenant_id).matches(query, k)
        ]

    def best(self, tenant_id: str, query: str) -> tuple[Match | None, float]:
        """The best match if it clears the threshold, and the best score either way."""
        top = self.index(tenant_id).matches(query, 1)
        if not top:
            return None, 0.0
        return (top[0] if top[0].score >= self.min_score else None), top[0].score

    def index(self, tenant_id: str) -> TenantIndex:
        version = self.store.version(tenant_id)
        if not version:
            return self._default_index()
        with self._lock:
            cached = self._cache.get(tenant_id)
            if cached is not None and cached.version == version:
                self._cache.move_to_end(tenant_id)
                return cached.index
        # Built outside the lock: one tenant's rebuild must not stall others' searches. Two
        # threads may both rebuild after an edit; either result is correct.
        # Cached under the version read *before* the articles: an edit landing in between
        # leaves the cache one version behind, so the next search rebuilds it.
        articles = self.store.effective(tenant_id)
        index = TenantIndex(articles)
        with self._lock:
            self.builds += 1
            self._cache[tenant_id] = _Cached(version, index)
            self._cache.move_to_end(tenant_id)
            while len(self._cache) > self._max_cached:
                self._cache.popitem(last=False)
        return index

    def _default_index(self) -> TenantIndex:
        with self._lock:
            if self._defaults is None:
                self._defaults = TenantIndex(default_articles())
                self.builds += 1
            return self._defaults
