"""Error-body excerpts keep the server's reason and lose the request's private text."""

from __future__ import annotations

import json

from supportflow.understanding.llm.redact import ERROR_BODY_CHARS, safe_excerpt

TEXT = "my name is Bob Stone, email bob@x.io\nship to 12 Baker Street London, order 2611340"


def test_an_echoed_message_is_taken_out_whole_or_in_fragments() -> None:
    escaped = json.dumps({"detail": [{"msg": "too long", "input": TEXT}]})
    assert (
        safe_excerpt(escaped, [TEXT]) == '{"detail": [{"msg": "too long", "input": "[redacted]"}]}'
    )
    partial = "bad input: 'Bob Stone, email' ... 'Baker Street London'"
    out = safe_excerpt(partial, [TEXT])
    assert "Bob" not in out and "Baker" not in out and out.startswith("bad input:")


def test_emails_and_long_numbers_go_whatever_their_source() -> None:
    out = safe_excerpt("order 2611340 for ann@example.com failed after 4096 tokens (HTTP 500)", [])
    assert out == "order [number] for [email] failed after 4096 tokens (HTTP 500)"


def test_excerpts_are_one_short_line() -> None:
    out = safe_excerpt("<html>\n<body>\n" + "x" * 5000 + "</body></html>", [])
    assert "\n" not in out and len(out) == ERROR_BODY_CHARS + 3
