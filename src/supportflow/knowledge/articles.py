"""Knowledge articles as retrieval sees them, limits on their size, and the default set.

The default set restates the store policy every agent follows (DESIGN §4) in customer
words. A tenant with no articles of its own is answered from it; once a merchant writes
an article, only the merchant's articles are used, so nothing the merchant did not write
(or did not keep) is ever quoted to their customers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources

MAX_TITLE_CHARS = 200
MAX_BODY_CHARS = 8000
MAX_TAGS = 20
MAX_TAG_CHARS = 40
# A tenant's knowledge base as a whole: its index lives in every worker's memory and is
# rebuilt (in the background) after a restart, so its size is bounded. 300 full-size
# articles fit. Settings can lower or raise both (SUPPORTFLOW_KNOWLEDGE_MAX_*).
MAX_ARTICLES = 500
MAX_TOTAL_CHARS = 2_500_000

DEFAULTS_FILE = "default_articles.json"


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    body: str
    tags: tuple[str, ...] = ()
    updated_at: datetime | None = None
    # A custom action whose result fills the body's ``{field}`` placeholders (issue 16).
    action: str | None = None
    # True for the shipped default set: read-only, shared by every tenant without articles.
    default: bool = field(default=False)


@cache
def default_articles() -> tuple[Article, ...]:
    raw = json.loads(resources.files(__package__).joinpath(DEFAULTS_FILE).read_text("utf-8"))
    return tuple(
        Article(
            id=a["id"],
            title=a["title"],
            body=a["body"],
            tags=tuple(a.get("tags", ())),
            default=True,
        )
        for a in raw["articles"]
    )
