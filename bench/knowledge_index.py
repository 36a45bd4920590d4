"""Knowledge indexing on a tenant with 300 full-size articles: edits and turns, before and
after indexing moved off the turn path.

  .venv/bin/python -m bench.knowledge_index [--articles 300] [--edits 8]

Before, the first search after any edit refitted the tenant's TF-IDF index from scratch
(scikit-learn) inside the customer's turn: the "before" figure is that refit plus the query,
timed here on the same articles. After, a write is indexed in the background, reading only
the edited article (knowledge/terms.py), and a turn answers from the last good index
meanwhile. Measured on a real SQLite app database, with edits made over HTTP to the real
knowledge API (uvicorn on loopback) and searches made as the knowledge activity makes them
(KnowledgeBase.best, in a worker's own KnowledgeBase):

- full build of the tenant's index: scikit-learn refit (before) and cold build (after);
- edit latency (PUT /v1/knowledge/{id}) and how long until the worker answers from it;
- turn retrieval latency: idle, and right after an edit (before: refit in the turn);
- another tenant's retrieval latency while the large tenant's index rebuilds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import string
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from tests.helpers import serve_router

from bench.stack import pct
from supportflow.api.routers import knowledge
from supportflow.db.engine import make_engine, make_session_factory
from supportflow.db.migrate import upgrade
from supportflow.knowledge.articles import Article, default_articles
from supportflow.knowledge.base import KnowledgeBase
from supportflow.knowledge.index import split_passages, word_terms
from supportflow.knowledge.store import ArticleDraft, KnowledgeStore
from supportflow.settings import Settings
from supportflow.tenants.service import create_tenant

QUESTIONS = [
    "how long does a refund take to reach my card",
    "can I change the shipping address of my order",
    "do you accept paypal",
    "what is your return policy for shoes",
]


def articles(n: int, seed: int = 1) -> list[ArticleDraft]:
    """Full-size articles (~7,900 characters) in the default articles' words, a third of
    them mixed with made-up words (product names, codes), as a large help centre reads."""
    rng = random.Random(seed)
    words = " ".join(a.body for a in default_articles()).split()

    def word() -> str:
        if rng.random() < 0.7:
            return rng.choice(words)
        return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 10)))

    drafts = []
    for i in range(n):
        paragraphs: list[str] = []
        while sum(len(p) + 2 for p in paragraphs) < 7800:
            paragraphs.append(" ".join(word() for _ in range(rng.randint(40, 120))))
        body = "\n\n".join(paragraphs)[:7900].rsplit(" ", 1)[0]
        drafts.append(ArticleDraft(f"Article {i}: {word()} {word()}", body, ("help",)))
    return drafts


def sklearn_refit_and_query(arts: Sequence[Article], query: str) -> None:
    """What a turn did before, after any edit: fit both vectorizers on the tenant's passages
    from scratch (and weigh the whole articles), then score the query. Only its time is
    used here; tests/knowledge/test_terms.py checks the scores are the same as now."""
    docs: list[str] = []
    for a in arts:
        docs.extend(" ".join([a.title, *a.tags, p]) for p in split_passages(a.body) or [a.title])
    wholes = [" ".join([a.title, *a.tags, a.body]) for a in arts]
    for vectorizer in (
        TfidfVectorizer(analyzer=word_terms, sublinear_tf=True, norm=None),
        TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(3, 5),
            sublinear_tf=True,
            strip_accents="unicode",
            norm=None,
        ),
    ):
        matrix = normalize(vectorizer.fit_transform(docs))
        whole = normalize(vectorizer.transform(wholes))
        q = vectorizer.transform([query])
        (matrix @ q.T).toarray()
        (whole @ q.T).toarray()


def timed_best(kb: KnowledgeBase, tenant: str, query: str) -> tuple[float, str | None]:
    started = time.perf_counter()
    match, _ = kb.best(tenant, query)
    return time.perf_counter() - started, match.passage if match else None


def summary(name: str, xs: Sequence[float]) -> None:
    print(
        f"  {name:<52} n={len(xs):<4} p50 {pct(list(xs), 50) * 1000:9.1f} ms"
        f"  p99 {pct(list(xs), 99) * 1000:9.1f} ms  max {max(xs) * 1000:9.1f} ms"
    )


async def run(n_articles: int, n_edits: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="sf-kb-bench-"))
    url = f"sqlite:///{tmp / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    big = create_tenant(sessions, "Big help centre")
    small = create_tenant(sessions, "Small shop")
    store = KnowledgeStore(sessions)
    drafts = articles(n_articles)
    made = [store.create(big.tenant_id, d) for d in drafts]
    store.import_defaults(small.tenant_id)
    chars = sum(len(d.title) + len(d.body) for d in drafts)
    print(f"tenant: {n_articles} articles, {chars:,} characters; other tenant: default set")

    print("full build of the large tenant's index")
    own = store.own(big.tenant_id)
    started = time.perf_counter()
    sklearn_refit_and_query(own, QUESTIONS[0])
    before_turn = time.perf_counter() - started
    print(f"  before: scikit-learn refit + query, in the turn        {before_turn:8.2f} s")
    worker = KnowledgeBase(sessions)
    started = time.perf_counter()
    worker.refresh_soon(big.tenant_id).result()
    print(
        f"  after:  cold build (background; once per worker start)  "
        f"{time.perf_counter() - started:8.2f} s"
    )
    worker.best(small.tenant_id, QUESTIONS[0])

    idle = [timed_best(worker, big.tenant_id, q)[0] for q in QUESTIONS * 5]
    idle_small = [timed_best(worker, small.tenant_id, q)[0] for q in QUESTIONS * 5]

    edit_latency: list[float] = []
    stale_turns: list[float] = []
    visible_after: list[float] = []
    during_rebuild_small: list[float] = []
    rng = random.Random(2)
    async with (
        serve_router(knowledge.router, Settings(data_dir=tmp), sessions) as base,
        httpx.AsyncClient(base_url=base, timeout=120) as http,
    ):
        for i in range(n_edits):
            target = rng.choice(made)
            marker = f"zanzibarcode{i}"
            body = {
                "title": f"Edited {i}",
                "body": f"Orders to Zanzibar ship with code {marker}.\n\n" + drafts[i].body[:3000],
            }
            started = time.perf_counter()
            r = await http.put(
                f"/v1/knowledge/{target.id}", json=body, headers={"X-Api-Key": big.api_key}
            )
            r.raise_for_status()
            done = time.perf_counter()
            edit_latency.append(done - started)

            # Another tenant's turns while the big tenant's index is rebuilt.
            stop = threading.Event()

            def other_tenant(stop: threading.Event = stop) -> None:
                i = 0
                while not stop.is_set():
                    q = QUESTIONS[i % len(QUESTIONS)]
                    during_rebuild_small.append(timed_best(worker, small.tenant_id, q)[0])
                    i += 1
                    time.sleep(0.01)

            thread = threading.Thread(target=other_tenant)
            thread.start()
            question = f"what is the shipping code {marker} for Zanzibar"
            seconds, passage = await asyncio.to_thread(timed_best, worker, big.tenant_id, question)
            stale_turns.append(seconds)
            while passage is None or marker not in passage:
                await asyncio.sleep(0.05)
                seconds, passage = await asyncio.to_thread(
                    timed_best, worker, big.tenant_id, question
                )
                stale_turns.append(seconds)
            visible_after.append(time.perf_counter() - done)
            stop.set()
            thread.join()

    worker.close()
    engine.dispose()

    print("merchant edits (PUT over HTTP; indexed in the background)")
    summary("edit latency", edit_latency)
    summary("edit answered by the worker after", visible_after)
    print("turn retrieval latency (KnowledgeBase.best, as the knowledge activity)")
    print(f"  before: first turn after an edit (refit in the turn)   {before_turn * 1000:9.1f} ms")
    summary("after: idle", idle)
    summary("after: turns while an edit is indexed", stale_turns)
    summary("other tenant, idle", idle_small)
    summary("other tenant, while the large one is indexed", during_rebuild_small)
    print(f"  stale answers served: {worker.stale_answers}, builds: {worker.builds}")
    print(f"  mean edit latency {statistics.fmean(edit_latency) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--edits", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(run(args.articles, args.edits))


if __name__ == "__main__":
    main()
