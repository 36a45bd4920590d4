"""What of an endpoint's error body may be logged and raised.

A server's error body is the only clue to what went wrong (llama-cpp-python answers 500 with the
reason in it), so it is kept, but servers echo request fields in errors (a validation error
quotes the offending input; some quote the whole message list). So before an excerpt goes into
a log line or an exception (which may reach the workflow history), everything the request sent
that is not ours is taken out: the customer's text and the reply draft, whole or in fragments
of three or more words, and the API key; emails and long digit runs (order numbers, phones)
are masked whatever their source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

ERROR_BODY_CHARS = 300
# Fragments of private text this long (in words) are taken out wherever they appear.
_FRAGMENT_WORDS = 3
_WORD = re.compile(r"\w+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Five or more digits (order numbers, phones, zip codes); "HTTP 500" or "2048 tokens" stay.
_DIGITS = re.compile(r"\d(?:[\d\s-]{3,}\d)")
REDACTED = "[redacted]"


def _variants(private: Iterable[str]) -> list[str]:
    """Each private text as sent and as a server may echo it (JSON- or repr-escaped)."""
    out: set[str] = set()
    for text in private:
        for v in (text, json.dumps(text, ensure_ascii=False)[1:-1], repr(text)[1:-1]):
            if len(v.strip()) >= 4:
                out.add(v)
    # Longest first, so a whole message goes before the fragments it contains.
    return sorted(out, key=len, reverse=True)


def _fragment_spans(body: str, private: Iterable[str]) -> list[tuple[int, int]]:
    """Spans of ``body`` covered by runs of words that also run together in a private text."""
    grams: set[tuple[str, ...]] = set()
    for text in private:
        words = [w.lower() for w in _WORD.findall(text)]
        grams.update(
            tuple(words[i : i + _FRAGMENT_WORDS]) for i in range(len(words) - _FRAGMENT_WORDS + 1)
        )
    found = list(_WORD.finditer(body))
    spans: list[tuple[int, int]] = []
    for i in range(len(found) - _FRAGMENT_WORDS + 1):
        window = found[i : i + _FRAGMENT_WORDS]
        if tuple(m.group(0).lower() for m in window) in grams:
            spans.append((window[0].start(), window[-1].end()))
    return spans


def safe_excerpt(body: str, private: Iterable[str]) -> str:
    """``body`` on one line, without anything of ``private`` (see the module doc), cut short."""
    private = [p for p in private if p]
    # Only the start is shown; a huge error page need not be scanned whole.
    body = body[: ERROR_BODY_CHARS * 50]
    # Whole texts first (as sent, or escaped as an echo would be), then any fragments left.
    for value in _variants(private):
        body = body.replace(value, REDACTED)
    spans = _fragment_spans(body, private)
    if spans:
        merged: list[tuple[int, int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        for start, end in reversed(merged):
            body = body[:start] + REDACTED + body[end:]
    body = _EMAIL.sub("[email]", body)
    body = _DIGITS.sub("[number]", body)
    body = " ".join(body.split())
    if len(body) > ERROR_BODY_CHARS:
        body = body[:ERROR_BODY_CHARS] + "..."
    return body
