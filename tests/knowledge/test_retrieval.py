"""Retrieval quality on hand-labelled customer questions against the default articles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from supportflow.knowledge.articles import default_articles
from supportflow.knowledge.base import MIN_SCORE
from supportflow.knowledge.index import TenantIndex, split_passages, stem

HERE = Path(__file__).parent


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HERE / name).read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def index() -> TenantIndex:
    return TenantIndex(default_articles())


def _evaluate(index: TenantIndex, name: str) -> dict[str, Any]:
    data = _load(name)
    top = [(index.matches(x["q"], 1)[0], x["article"]) for x in data["on_topic"]]
    right = [m.score for m, want in top if m.article.id == want]
    answered = [(m, want) for m, want in top if m.score >= MIN_SCORE]
    return {
        "precision_at_1": len(right) / len(top),
        "answered": len(answered) / len(top),
        "precision_answered": sum(m.article.id == w for m, w in answered) / len(answered),
        "right_scores": sorted(right),
        "off_scores": sorted(index.matches(q, 1)[0].score for q in data["off_topic"]),
        "n": len(top),
    }


def test_labelled_questions_find_their_article(
    index: TenantIndex, record_property: pytest.RecordProperty
) -> None:
    r = _evaluate(index, "labelled_queries.json")
    for key in ("precision_at_1", "answered", "precision_answered"):
        record_property(key, round(r[key], 3))
    assert r["n"] >= 40
    assert r["precision_at_1"] >= 0.85, r
    # Nearly every question the articles answer is answered, not turned away.
    assert r["answered"] >= 0.9, r


def test_off_topic_questions_fall_below_the_threshold(index: TenantIndex) -> None:
    r = _evaluate(index, "labelled_queries.json")
    assert len(r["off_scores"]) >= 10
    assert r["off_scores"][-1] < MIN_SCORE, r["off_scores"]


def test_threshold_separates_off_topic_from_right_answers(index: TenantIndex) -> None:
    """MIN_SCORE sits in the gap: above every off-topic question, below (almost) every
    rightly ranked one, with room on both sides."""
    r = _evaluate(index, "labelled_queries.json")
    off_max, right = r["off_scores"][-1], r["right_scores"]
    assert off_max < MIN_SCORE <= right[1]
    assert MIN_SCORE - off_max >= 0.01


def test_held_out_questions(index: TenantIndex) -> None:
    """Written before tuning and never used to choose anything: lexical retrieval over
    short articles generalises less well, and this keeps that visible."""
    r = _evaluate(index, "heldout_queries.json")
    assert r["precision_at_1"] >= 0.7, r
    assert r["off_scores"][-1] < MIN_SCORE, r


def test_answers_quote_the_article_verbatim(index: TenantIndex) -> None:
    for x in _load("labelled_queries.json")["on_topic"]:
        m = index.matches(x["q"], 1)[0]
        assert m.passage in m.article.body


def test_empty_and_oversized_queries_are_safe(index: TenantIndex) -> None:
    assert all(m.score == 0.0 for m in index.matches("   ", 3))
    assert index.matches("refund " * 5000, 1)[0].article.id == "default-refunds"
    assert index.matches("?!", 3)[0].score < MIN_SCORE


def test_default_articles_cover_the_store_policy() -> None:
    text = " ".join(a.body for a in default_articles()).lower()
    for fact in ("pending", "5-7 business days", "gift card", "paypal", "credit card", "only once"):
        assert fact in text
    assert len({a.id for a in default_articles()}) == len(default_articles())


def test_passages_split_paragraphs_headings_and_long_blocks() -> None:
    body = "# Shipping\n\nWe ship daily.\n\nSecond paragraph.\n\n" + "A sentence. " * 200
    parts = split_passages(body)
    assert parts[0] == "# Shipping\nWe ship daily."
    assert parts[1] == "Second paragraph."
    assert len(parts) > 3 and all(len(p) <= 700 for p in parts)
    assert split_passages("x" * 2000)[0] == "x" * 700


def test_stemming_meets_inflections() -> None:
    assert {stem(w) for w in ("refunds", "refunded", "refunding")} == {"refund"}
    assert stem("shipped") == stem("ships") == "ship"
    assert stem("cancelled") == "cancel" and stem("addresses") == "address"
